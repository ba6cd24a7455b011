"""The ladder decided on a search result (no comments): only where the recorded step makes it certain, the same
step the full decision takes, and never outside the customer's business hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.actions import Comment, RecordStep, Resolve, Tag
from bot.domain.tickets import Status, Ticket, Visibility
from bot.policy import followup
from bot.policy.runbook import Situation
from bot.policy.schema import load_policy
from tests.policy.helpers import ticket

POLICY = load_policy(None)  # UTC, 09:00-17:00 Monday to Friday, strikes at 10:00
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TUESDAY_NOON = MONDAY + timedelta(days=1, hours=2)
REPLY = "7"
"""The customer's last public comment when the recorded step was taken."""


def found(step: int = 1, *, at: datetime = MONDAY, **extra: object) -> Ticket:
    """A pending ticket as Zendesk's search returns it: fields and tags, no comments."""
    base = ticket("Export fails", "It fails.", status=Status.PENDING, created_at=at - timedelta(days=3))
    fields = {
        "tags": (f"helpdesk-bot-strike-{step}",),
        "followup_state": followup.marker(f"strike-{step}", at, after=REPLY),
        "updated_at": at + timedelta(minutes=3),  # the step's own write
        "comments": (),
        **extra,
    }
    return replace(base, **fields)  # type: ignore[arg-type]


def decide(t: Ticket, now: datetime) -> followup.Verdict | None:
    return followup.decide_ladder_from_search(Situation("zendesk", t, POLICY, now))


def test_the_next_strike_is_decided_on_the_recorded_step() -> None:
    verdict = decide(found(1), TUESDAY_NOON)
    assert verdict is not None and verdict.outcome == "strike 2/3 sent"
    public = [a for a in verdict.actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]
    assert len(public) == 1
    [record] = [a for a in verdict.actions if isinstance(a, RecordStep)]
    assert record.marker == followup.marker("strike-2", TUESDAY_NOON, after=REPLY, greet="Cathy")  # no comments read
    assert record.notes[0].startswith("Follow-up strike 2/3 sent (phone attempt")  # the step's notes ride along
    assert record.notes[1].startswith("Task for the assignee: call")
    assert not [a for a in verdict.actions if isinstance(a, Comment) and a.visibility is Visibility.INTERNAL]
    assert any(isinstance(a, Tag) and "helpdesk-bot-strike-2" in a.add for a in verdict.actions)


def test_a_step_not_yet_due_is_known_without_a_read() -> None:
    verdict = decide(found(1), MONDAY + timedelta(hours=5))
    assert verdict is not None and not verdict.actions and verdict.due == MONDAY + timedelta(days=1)


def test_after_the_third_strike_the_ticket_is_resolved() -> None:
    verdict = decide(found(3), TUESDAY_NOON)
    assert verdict is not None and any(isinstance(a, Resolve) for a in verdict.actions)


@pytest.mark.parametrize(
    "why, extra",
    [
        ("no step recorded", {"followup_state": None, "tags": ()}),
        ("a customer reply was the last step", {"followup_state": followup.marker("reply", MONDAY, reply="9")}),
        ("the tag does not match the field", {"tags": ("helpdesk-bot-strike-2",)}),
        ("the ticket is open again", {"status": Status.OPEN}),
        ("a linked dev bug may end the ladder", {"tags": ("helpdesk-bot-strike-1", "helpdesk-bot-bug-linked")}),
        ("someone changed it after the step", {"updated_at": MONDAY + timedelta(hours=6)}),
        ("the marker does not say which reply it follows", {"followup_state": followup.marker("strike-1", MONDAY)}),
    ],
)
def test_anything_the_result_cannot_settle_is_left_to_a_read(why: str, extra: dict[str, object]) -> None:
    assert decide(found(1, **extra), TUESDAY_NOON) is None, why


def test_stopped_tickets_are_left_alone_without_a_read() -> None:
    verdict = decide(found(1, tags=("helpdesk-bot-strike-1", "helpdesk-bot-stop")), TUESDAY_NOON)
    assert verdict is not None and not verdict.actions and "stopped" in verdict.outcome


def test_a_due_step_waits_for_the_customers_business_hours() -> None:
    night = MONDAY + timedelta(days=1, hours=14)  # Wednesday 00:00 UTC: strike 2 fell due on Tuesday
    verdict = decide(found(1), night)
    assert verdict is not None and not verdict.actions
    assert verdict.due == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # Wednesday, when the working day starts
    sent = decide(found(1), datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    assert sent is not None and sent.outcome == "strike 2/3 sent"


def test_the_step_greets_and_signs_as_the_full_decision_did_without_a_look_up() -> None:
    """Search results name the requester by id only and carry no comments: the field's marker keeps the greeting
    and the agent the last step used, so strike 3 on a search result reads as it would on a full read."""
    nameless = replace(ticket().requester, name="", email="")
    kept = followup.marker("strike-2", MONDAY, after=REPLY, greet="Cathy", agent=("101", "Alice Agent"))
    t = found(2, followup_state=f"Follow-up strike 2/3 sent.\n\n{kept}", requester=nameless, assignee_id="101")
    assert followup.greeting_kept(t)
    verdict = decide(t, TUESDAY_NOON)
    assert verdict is not None and verdict.outcome == "strike 3/3 sent"
    [email] = [a.body for a in verdict.actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]
    assert email.startswith("Good day Cathy. This is Alice Agent from the Service Desk.")
    [record] = [a for a in verdict.actions if isinstance(a, RecordStep)]
    again = followup.field_step(replace(t, followup_state=record.value))
    assert again is not None and (again.greet, again.agent) == ("Cathy", ("101", "Alice Agent"))  # kept onwards

    moved = decide(replace(t, assignee_id="102"), TUESDAY_NOON)  # reassigned since: Alice no longer speaks for it
    assert moved is not None
    [email] = [a.body for a in moved.actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]
    assert "Alice Agent" not in email and email.startswith("Good day Cathy.")


def test_names_with_spaces_and_signs_survive_the_marker() -> None:
    mark = followup.marker("strike-1", MONDAY, after="5", greet="José-María", agent=("7", "Zoë O'Neil = Lead]"))
    step = followup.field_step(replace(ticket(), followup_state=f"note [x]\n\n{mark}"))
    assert step is not None and step.greet == "José-María" and step.agent == ("7", "Zoë O'Neil = Lead]")
    assert step.after == "5" and step.name == "strike-1"
