"""The linked dev bug decision: when a bug is filed, what it says, and whom it mentions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.actions import CreateLinkedBug, Tag
from bot.domain.events import Actor, Event, EventKind
from bot.domain.tickets import Comment, Role, Visibility
from bot.policy.linked_bug import BUG_TAG, LINKED_TAG, bug_description, decide, steps_to_reproduce
from bot.policy.runbook import Situation
from bot.policy.schema import Bugs, Match, load_policy
from tests.policy.helpers import CATHY, NOW, SAM, ticket

POLICY = load_policy(None)


def event(kind: EventKind) -> Event:
    return Event("zd-1", "zendesk", kind, "42", Actor("1", Role.AGENT), "d-1", NOW)


def situation(t: Any, kind: EventKind = EventKind.TICKET_UPDATED, **facts: Any) -> Situation:
    bugs = Bugs(
        product_managers={"api": "dave@example.com", "billing": "sam@example.com"},
        default_product_manager="dave@example.com",
        auto=[Match(keywords=["crash"])],
        environment_fields={"Browser": "500"},
    )
    policy = POLICY.model_copy(update={"bugs": bugs})
    return Situation("zendesk", t, policy, NOW, event(kind), facts)


def reply(body: str, minutes: int, role: Role = Role.CUSTOMER) -> Comment:
    author = CATHY if role is Role.CUSTOMER else SAM
    return Comment(str(minutes), author, body, Visibility.PUBLIC, NOW + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("texts", "steps"),
    [
        (["1. Open Reports\n2. Click Export\n3) See the error"], ["Open Reports", "Click Export", "See the error"]),
        (["Hi,\n- log in\n- open the API keys page\nThanks"], ["log in", "open the API keys page"]),
        (["Step 1: sign in\nStep 2: upload the CSV"], ["sign in", "upload the CSV"]),
        (["It crashes.", "* go to billing\n* press pay"], ["go to billing", "press pay"]),
        (["Only one line:\n1. open it"], []),  # one line is not a list of steps
        (["No steps here, it just fails since 10:00."], []),
    ],
)
def test_steps_to_reproduce_come_from_the_customers_own_lists(texts: list[str], steps: list[str]) -> None:
    assert steps_to_reproduce(texts) == steps


def test_the_bug_description_has_steps_expected_actual_environment_and_the_ticket() -> None:
    t = ticket(
        "Export crashes",
        "The export fails.\nExpected: a CSV file\nActual: error 500",
        comments=(reply("1. open Reports\n2. click Export", 5), reply("1. agent steps\n2. ignored", 6, Role.AGENT)),
        custom_fields={"500": "Firefox 128"},
        url="https://acme.zendesk.com/agent/tickets/42",
    )
    text = bug_description(t, {"Browser": "Firefox 128"})
    assert "Steps to reproduce\n1. open Reports\n2. click Export\n" in text
    assert "agent steps" not in text  # only the customer's words
    assert "Expected: a CSV file\nActual: error 500" in text
    assert "Environment\nBrowser: Firefox 128" in text
    assert text.endswith("Zendesk ticket 42: https://acme.zendesk.com/agent/tickets/42")


def test_without_steps_the_description_is_the_customers_text() -> None:
    text = bug_description(ticket("Slow", "Everything is slow since Monday."), {})
    assert text.startswith("Steps to reproduce\nEverything is slow since Monday.")


def test_an_agents_tag_files_one_bug_in_jira_mentioning_the_products_pm() -> None:
    verdict = decide(situation(ticket("Billing page broken", "It fails", tags=(BUG_TAG, "billing"))))
    bug, tag = verdict.actions
    assert isinstance(bug, CreateLinkedBug) and isinstance(tag, Tag)
    assert (bug.desk, bug.project, bug.mention_email) == ("jira", "DEV", "sam@example.com")
    assert bug.summary == "Billing page broken [Zendesk 42]"
    assert "tagged the ticket helpdesk-bot-bug" in bug.why and "product billing" in bug.comment
    assert tag.add == (LINKED_TAG,)


def test_the_pm_comes_from_a_subject_word_else_the_default() -> None:
    api = decide(situation(ticket("API returns 500", "x", tags=(BUG_TAG,)))).actions[0]
    other = decide(situation(ticket("Login is slow", "x", tags=(BUG_TAG,)))).actions[0]
    assert isinstance(api, CreateLinkedBug) and api.mention_email == "dave@example.com"
    assert isinstance(other, CreateLinkedBug) and "default product manager" in other.comment


def test_an_auto_rule_files_a_bug_only_when_the_ticket_is_created() -> None:
    crashing = ticket("App crash on start", "It crashes")
    assert decide(situation(crashing, EventKind.TICKET_CREATED)).actions
    assert decide(situation(crashing, EventKind.TICKET_UPDATED)).outcome == "no bug asked for"


def test_escalate_bug_forces_one_and_a_linked_ticket_is_not_asked_again() -> None:
    plain = ticket("Question", "How do I export?")
    assert decide(situation(plain)).outcome == "no bug asked for"
    assert decide(situation(plain, forced=True)).actions
    linked = ticket("Question", "x", tags=(BUG_TAG, LINKED_TAG))
    assert decide(situation(linked)).outcome.startswith("already has a bug")


def test_no_bug_for_an_issue_of_the_dev_project_itself_or_when_disabled() -> None:
    dev_issue = ticket("Crash", "x", desk="jira", id="DEV-3", project="DEV", tags=(BUG_TAG,))
    assert decide(situation(dev_issue)).outcome == "a dev project issue itself"
    s = situation(ticket("Crash", "x", tags=(BUG_TAG,)))
    off = s.policy.model_copy(update={"bugs": s.policy.bugs.model_copy(update={"enabled": False})})
    assert decide(Situation("zendesk", s.ticket, off, NOW, s.event)).actions == ()
