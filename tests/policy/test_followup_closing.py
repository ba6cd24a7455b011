"""The follow-up ladder's contact channels and closing rules as pure decisions: strike 1 by chat within the
customer's working hours, strike 2 as a call task with the voicemail script, the JSM closing rules (no answer to a
confirmation request, ignored attempts, only a low-priority dev bug left), the quick rule's approval text, and the
waiting clock started by the status history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.domain.actions import Comment, PostChat, RecordStep, Resolve, Tag
from bot.domain.tickets import Person, Role, Status, StatusChange, Ticket, Visibility
from bot.policy import followup
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy, validate_policy_file
from tests.policy.helpers import ALICE, CATHY
from tests.policy.test_followup import DEFAULT, FRIDAY, apply, at, comment, waiting

SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"


def policy(webhooks: dict[str, str] | None = None, **followup_settings: Any) -> Policy:
    data = DEFAULT.model_dump(by_alias=True, exclude_defaults=False)
    data["followup"] = {**data["followup"], **followup_settings}
    if webhooks is not None:
        data["chat"] = {"webhooks": webhooks}
    return Policy.model_validate(data)


def decide(t: Ticket, now: datetime, p: Policy = DEFAULT, **facts: Any) -> Verdict:
    return followup.decide_ladder(Situation("zendesk", t, p, now, facts=facts))


def of(verdict: Verdict, kind: type) -> list[Any]:
    return [a for a in verdict.actions if isinstance(a, kind)]


def notes(verdict: Verdict) -> list[str]:
    """What agents read: internal comments, and the step notes the follow-up field carries (one per paragraph)."""
    kept = [note for a in of(verdict, RecordStep) for note in a.notes]
    return [a.body for a in of(verdict, Comment) if a.visibility is Visibility.INTERNAL] + kept


def chat_policy(**channels: Any) -> Policy:
    return policy({"customers": SLACK, "acme-shared": SLACK}, chat={"channel": "customers", **channels})


# --- the attempts -----------------------------------------------------------------------------------------------


def test_strike_one_is_a_chat_message_within_working_hours_and_still_a_public_comment() -> None:
    verdict = decide(waiting(), at(2), chat_policy())
    [chat] = of(verdict, PostChat)
    assert chat.channel == "customers" and chat.thread_key == "zendesk-42"
    assert "Cathy" in chat.text and "#42" in chat.text and "Export fails" in chat.text
    assert "Alice Agent from the Service Desk" in chat.text
    public = [a for a in of(verdict, Comment) if a.visibility is Visibility.PUBLIC]
    assert len(public) == 1  # documented on the ticket as the customer-visible attempt
    assert "posted to chat channel 'customers'" in notes(verdict)[0]


def test_the_chat_attempt_uses_the_organization_channel() -> None:
    p = chat_policy(organizations={"acme": "acme-shared"})
    [chat] = of(decide(waiting(), at(2), p), PostChat)
    assert chat.channel == "acme-shared"


@pytest.mark.parametrize(
    ("now", "policy_", "why"),
    [
        (at(2, 18), "chat", "outside the customer's working hours"),  # a late sweep, sending out of hours: no chat
        (at(2), "none", "no chat channel for this customer"),
    ],
)
def test_no_chat_outside_working_hours_or_without_a_channel(now: datetime, policy_: str, why: str) -> None:
    out_of_hours = policy({"customers": SLACK}, chat={"channel": "customers"}, business_hours_only=False)
    chosen = out_of_hours if policy_ == "chat" else DEFAULT
    verdict = decide(waiting(), now, chosen)
    assert verdict.outcome == "strike 1/3 sent" and of(verdict, PostChat) == []
    assert why in notes(verdict)[0]


def test_a_strike_due_after_hours_waits_for_the_next_working_moment_and_its_chat_attempt() -> None:
    late = decide(waiting(), at(2, 18), chat_policy())
    assert late.actions == () and late.due is not None and late.due.hour == 9
    morning = decide(waiting(), late.due, chat_policy())
    assert morning.outcome == "strike 1/3 sent" and len(of(morning, PostChat)) == 1


def test_strike_two_is_a_call_task_with_the_voicemail_script() -> None:
    w = waiting()
    t = apply(w, decide(w, at(2)), at(2))
    verdict = decide(t, at(3))
    script = next(n for n in notes(verdict) if n.startswith("Task for"))
    assert script.startswith("Task for Alice Agent: call Cathy today (follow-up 2 of 3).")
    for part in ("this is Alice Agent from the Service Desk", "ticket number 42", "Export fails"):
        assert part in script
    assert "We need your answer to our question: Which browser do you use?" in script  # the reason


def test_the_department_comes_from_the_policy() -> None:
    data = DEFAULT.model_dump(by_alias=True, exclude_defaults=False)
    data["service_desk"]["department"] = "IT Help Desk"
    p = Policy.model_validate(data)
    t = waiting()
    for day in (2, 3, 4):
        t = apply(t, decide(t, at(day), p), at(day))
    email = [c.body for c in t.comments if c.public and c.author.role is Role.BOT][-1]
    assert email.startswith("Good day Cathy. This is Alice Agent from the IT Help Desk.")


def test_a_chat_channel_must_be_one_of_the_chat_webhooks(tmp_path: Any) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("chat:\n  webhooks: {customers: " + SLACK + "}\nfollowup:\n  chat: {channel: custmers}\n")
    [problem] = validate_policy_file(path)
    assert "followup.chat.channel: unknown chat channel 'custmers'" in str(problem)


# --- closing rules ----------------------------------------------------------------------------------------------


def asked_to_confirm(
    body: str = "I have reset your export settings. Did that fix it? Can we close this ticket?",
) -> Ticket:
    t = waiting()
    return replace(t, comments=(*t.comments, comment(ALICE, body, FRIDAY + timedelta(minutes=30))))


def test_no_answer_to_a_confirmation_request_for_a_business_day_resolves() -> None:
    t = asked_to_confirm()
    monday = decide(t, at(2, 15, 29))
    assert monday.actions == () and monday.due == at(2, 15, 30)  # one business day after the request
    verdict = decide(t, at(2, 15, 30))
    assert verdict.outcome == "resolved: Done (resolved-unconfirmed)"
    [resolve] = of(verdict, Resolve)
    assert resolve.resolution == "Done" and "confirm" in resolve.why
    public = [a.body for a in of(verdict, Comment) if a.visibility is Visibility.PUBLIC]
    assert "we asked whether your request #42" in public[0]
    assert "closing rule: no answer for 1 business day(s) to the request to confirm" in notes(verdict)[0]
    assert of(verdict, PostChat) == [] and not any("strike" in n for n in notes(verdict))


@pytest.mark.parametrize(
    "body",
    [
        "Hat das Ihr Problem gelöst? Können wir das Ticket schließen?",
        "Pouvons-nous fermer la demande ?",
        "¿Podemos cerrar el ticket?",
    ],
)
def test_confirmation_requests_in_other_languages_count(body: str) -> None:
    assert decide(asked_to_confirm(body), at(2, 15, 30)).outcome == "resolved: Done (resolved-unconfirmed)"


def test_a_plain_question_is_no_confirmation_request_and_the_strikes_run() -> None:
    t = asked_to_confirm("Could you send us a screenshot of the error?")
    assert decide(t, at(2, 15, 30)).outcome == "strike 1/3 sent"


def test_the_confirmation_rule_can_be_turned_off_and_never_acts_on_exempt_tickets() -> None:
    off = policy(closing={"confirmation_days": 0})
    assert decide(asked_to_confirm(), at(2)).outcome != "strike 1/3 sent"
    assert decide(asked_to_confirm(), at(2), off).outcome == "strike 1/3 sent"
    paused = replace(asked_to_confirm(), tags=("helpdesk-bot-pause",))
    assert decide(paused, at(3)).actions == ()


def closing_ladder() -> Policy:
    return policy(ladders=[{"name": "jsm", "kind": "closing_rules"}])


def test_a_closing_rules_ladder_resolves_when_two_attempts_were_ignored() -> None:
    t = waiting()  # one attempt: the agent's question
    verdict = decide(t, at(10), closing_ladder())
    assert verdict.actions == () and "1 of 2 contact attempts unanswered" in verdict.outcome
    second = comment(ALICE, "Just checking in: which browser do you use?", at(2, 11))
    t = replace(t, comments=(*t.comments, second))
    assert decide(t, at(3, 9, 59), closing_ladder()).due == at(3)
    verdict = decide(t, at(3), closing_ladder())
    assert verdict.outcome == "resolved: User not responded"
    assert [r.resolution for r in of(verdict, Resolve)] == ["User not responded"]
    assert "we have tried 2 times to reach you" in of(verdict, Comment)[0].body
    assert "closing rule: the customer ignored 2 contact attempts" in notes(verdict)[0]
    assert "closure-user-not-responded" in of(verdict, Tag)[0].add


def dev_bug(priority: str = "Low", status: Status = Status.OPEN) -> Ticket:
    return Ticket(
        desk="jira", id="DEV-12", subject="Export fails", description="", status=status,
        requester=Person("9", "Dev"), created_at=FRIDAY, updated_at=FRIDAY, version="", priority=priority,
        project="DEV", url="https://jira.example.com/browse/DEV-12",
    )  # fmt: skip


def test_only_an_active_low_priority_dev_bug_left_resolves() -> None:
    t = replace(waiting(), status=Status.ON_HOLD, tags=("helpdesk-bot-bug-linked",))
    verdict = decide(t, at(2), linked_bug=dev_bug())
    assert verdict.outcome == "resolved: Known error (resolved-dev-bug)"
    assert [r.resolution for r in of(verdict, Resolve)] == ["Known error"]
    assert "DEV-12" in of(verdict, Comment)[0].body
    assert "only an active low-priority dev bug remains: DEV-12 (Low)" in notes(verdict)[0]
    st = followup.standing(t, DEFAULT, "zendesk", dev_bug())
    assert st.waiting_on == "development (DEV-12 (Low))" and st.next_action == "resolve-dev-bug"


@pytest.mark.parametrize(
    ("bug", "outcome"),
    [
        (dev_bug("High"), "strike 1/3 sent"),  # a high-priority bug: the ticket is not done
        (dev_bug("Low", Status.SOLVED), "strike 1/3 sent"),  # no longer active
        (None, "strike 1/3 sent"),
    ],
)
def test_the_dev_bug_rule_needs_an_active_low_priority_bug(bug: Ticket | None, outcome: str) -> None:
    assert decide(waiting(), at(2), linked_bug=bug).outcome == outcome


def test_the_dev_bug_rule_waits_when_the_customer_spoke_last() -> None:
    t = waiting()
    t = replace(t, comments=(*t.comments, comment(CATHY, "Any news?", at(2, 9))))
    assert decide(t, at(2, 10), linked_bug=dev_bug()).actions == ()


# --- the quick rule's approval variant ---------------------------------------------------------------------------


def test_the_quick_rule_tells_a_third_party_approver_they_have_seven_days() -> None:
    p = policy(
        ladders=[{"name": "approval", "match": {"tags": ["awaiting-approval"]}, "kind": "quick", "approval": True}]
    )
    t = replace(waiting(), tags=("awaiting-approval",))
    verdict = decide(t, at(2, 15), p)
    assert verdict.outcome == "resolved: User not responded"
    body = of(verdict, Comment)[0].body
    assert "The approver has 7 days to send the approval" in body and "a new request is needed" in body
    assert "third party's approval" in of(verdict, Resolve)[0].why
    plain = decide(waiting(), at(2, 15), p)  # without the tag: the three strikes
    assert plain.outcome == "strike 1/3 sent"


# --- the waiting clock ------------------------------------------------------------------------------------------


def test_the_clock_starts_when_the_ticket_was_set_pending_not_when_the_question_was_asked() -> None:
    set_pending = StatusChange(at(3, 11), Status.PENDING, Status.OPEN, Role.AGENT)
    t = replace(waiting(), status_changes=(set_pending,))
    assert decide(t, at(3, 12)).due == at(4)  # Wednesday 10:00, not Monday
    st = followup.standing(t, DEFAULT, "zendesk")
    assert st.since == at(3, 11) and st.next_action == "strike-1"
