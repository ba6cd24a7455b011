"""The feedback decisions: record once, then reply with the idea's reference (never before it exists)."""

from __future__ import annotations

from typing import Any

from bot.domain.actions import Comment, RecordFeedback, Tag
from bot.domain.events import Actor, Event, EventKind
from bot.domain.tickets import Role, Visibility
from bot.policy.feedback import ASK_TAG, RECORDED_TAG, decide_record, decide_reply
from bot.policy.runbook import Situation
from bot.policy.schema import Feedback, Triage, load_policy
from connectors.feedback.records import Idea
from tests.policy.helpers import NOW, ticket

POLICY = load_policy(None)
IDEA = Idea("677", "APP-I-2", "Dark mode", "https://acme.aha.io/ideas/ideas/APP-I-2", created=False)


def situation(
    t: Any = None, policy: Any = POLICY, kind: EventKind = EventKind.TICKET_CREATED, **facts: Any
) -> Situation:
    t = t or ticket("Feature idea: dark mode", "Would be great at night.", request_type="feedback")
    event = Event("e-1", t.desk, kind, t.id, Actor("101", Role.AGENT), "d-1", NOW)
    return Situation(t.desk, t, policy, NOW, event, facts)


def comments(actions: tuple[Any, ...], visibility: Visibility) -> list[str]:
    return [a.body for a in actions if isinstance(a, Comment) and a.visibility is visibility]


def test_an_unrecorded_feedback_ticket_is_recorded_with_its_text_and_not_yet_answered() -> None:
    record = decide_record(situation(tool="Aha!", idea=None))
    assert [(a.title, a.text) for a in record.actions if isinstance(a, RecordFeedback)] == [
        ("Feature idea: dark mode", "Would be great at night.")
    ]
    reply = decide_reply(situation(tool="Aha!", idea=None))
    assert reply.actions == () and "not recorded" in reply.outcome


def test_once_recorded_the_customer_is_told_the_reference_and_agents_get_the_link() -> None:
    assert decide_record(situation(tool="Aha!", idea=IDEA)).actions == ()
    verdict = decide_reply(situation(tool="Aha!", idea=IDEA))
    [public] = comments(verdict.actions, Visibility.PUBLIC)
    assert public.startswith("Hello Cathy,") and "recorded for our product team as idea APP-I-2" in public
    assert "passed to our product team" not in public
    assert comments(verdict.actions, Visibility.INTERNAL) == [
        "Feedback recorded in Aha! as APP-I-2: https://acme.aha.io/ideas/ideas/APP-I-2"
    ]
    assert any(isinstance(a, Tag) and RECORDED_TAG in a.add for a in verdict.actions)


def test_an_unreachable_tool_still_answers_the_customer_and_says_why_to_agents() -> None:
    assert decide_record(situation(tool=None)).actions == ()
    verdict = decide_reply(situation(tool=None))
    [public] = comments(verdict.actions, Visibility.PUBLIC)
    assert "passed to our product team" in public
    assert "Feedback not recorded" in comments(verdict.actions, Visibility.INTERNAL)[0]


def test_no_public_reply_when_first_responses_are_off() -> None:
    quiet = POLICY.model_copy(update={"triage": Triage(first_response=False)})
    verdict = decide_reply(situation(policy=quiet, tool="Jira", idea=IDEA))
    assert comments(verdict.actions, Visibility.PUBLIC) == []
    assert comments(verdict.actions, Visibility.INTERNAL) == [
        "Feedback recorded in Jira as APP-I-2: https://acme.aha.io/ideas/ideas/APP-I-2"
    ]


def test_nothing_for_other_types_recorded_tickets_or_without_a_target() -> None:
    other = ticket("Invoice", "copy", request_type="general_inquiry")
    assert decide_record(situation(other, tool="Aha!", idea=None)).actions == ()
    done = ticket("Idea", "x", request_type="feedback", tags=(RECORDED_TAG,))
    assert decide_reply(situation(done, tool="Aha!", idea=IDEA)).actions == ()
    nowhere = POLICY.model_copy(update={"feedback": Feedback()})
    assert decide_record(situation(policy=nowhere, tool="Aha!", idea=None)).actions == ()
    assert decide_reply(situation(policy=nowhere, tool="Aha!", idea=IDEA)).actions == ()
    jsm = ticket("Idea", "x", desk="jira", id="SD-9", request_type="4")  # the JSM desk stores "4"
    assert decide_record(situation(jsm, tool="Aha!", idea=None)).actions


def test_an_update_of_an_older_ticket_records_nothing_unless_an_agent_asks() -> None:
    old = ticket("Idea", "x", request_type="feedback")
    assert decide_record(situation(old, kind=EventKind.TICKET_UPDATED, tool="Aha!", idea=None)).actions == ()
    assert decide_reply(situation(old, kind=EventKind.TICKET_UPDATED, tool="Aha!", idea=IDEA)).actions == ()
    asked = ticket("Idea", "x", request_type="general_inquiry", tags=(ASK_TAG,))
    record = decide_record(situation(asked, kind=EventKind.TICKET_UPDATED, tool="Aha!", idea=None))
    assert [type(a) for a in record.actions] == [RecordFeedback]
