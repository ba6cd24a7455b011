"""Follow-up and auto-resolve end to end on both sandbox desks: customers open tickets through the desks' own
APIs, the real worker triages them, and `helpdesk-bot sweep --at …` drives the ladder day by day (no sleeping):
three strikes and the resolve with "User not responded", a reply restarting the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from bot.domain.tickets import NewComment, Role, Status, Ticket, TicketChanges, Visibility
from tests.sandbox_helpers import create_ticket, customer_reply
from tests.stack import Stack, running_stack
from tests.test_runbooks_e2e import created_event

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
STRIKES = ["helpdesk-bot-strike-1", "helpdesk-bot-strike-2", "helpdesk-bot-strike-3"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("followup")) as running:
        yield running


def monday(weeks: int) -> datetime:
    """10:00 UTC on a Monday `weeks` weeks from now (the packaged calendar: Mon-Fri 09-17 UTC, no holidays)."""
    today = datetime.now(UTC).date()
    day = today + timedelta(days=7 * weeks + (7 - today.weekday()))
    return datetime.combine(day, time(10), tzinfo=UTC)


def sweep(stack: Stack, desk: str, at: datetime, ticket_id: str) -> list[dict[str, Any]]:
    """`helpdesk-bot sweep --desk D --at AT --json`: the rows about `ticket_id`."""
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r for r in rows if r["ticket"] == ticket_id]


def outcomes(rows: list[dict[str, Any]]) -> list[str]:
    return [r["outcome"] for r in rows if r["runbook"] == "followup-ladder"]


def waiting_ticket(stack: Stack, desk: str, subject: str) -> str:
    """A technical-support ticket: triage answers it asking for details, so it waits on the customer."""
    ticket_id = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", subject, "It shows an error since today.")
    created_event(stack, desk, ticket_id)
    assert stack.desk(desk).get_ticket(ticket_id).status is Status.PENDING
    return ticket_id


def bot_public(ticket: Ticket) -> list[str]:
    return [c.body for c in ticket.comments if c.public and c.author.role is Role.BOT]


def resolution(stack: Stack, desk: str, ticket_id: str) -> str | None:
    if desk == "jira":
        issue = stack.sandboxes["jira"].state.issues[ticket_id]  # type: ignore[attr-defined]
        return str(issue["fields"]["resolution"]["name"]) if issue["fields"]["resolution"] else None
    raw = stack.sandboxes["zendesk"].state.tickets[int(ticket_id)]  # type: ignore[attr-defined]
    return next((f["value"] for f in raw["custom_fields"] if f["id"] == 900002), None)


@pytest.mark.parametrize("desk", DESKS)
def test_three_strikes_then_resolved_as_user_not_responded(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Export fails with an error")
    desk_api = stack.desk(desk)
    first_response = len(bot_public(desk_api.get_ticket(ticket_id)))
    mon = monday(1)
    today = sweep(stack, desk, datetime.now(UTC), ticket_id)
    assert outcomes(today)[0].startswith("waiting on the customer: strike-1 due")  # the next business day
    for day, tags in enumerate(STRIKES):
        rows = sweep(stack, desk, mon + timedelta(days=day), ticket_id)
        assert outcomes(rows) == [f"strike {day + 1}/3 sent"], rows
        ticket = desk_api.get_ticket(ticket_id)
        assert tags in ticket.tags and ticket.status is Status.PENDING
        if day == 0:  # a second sweep the same afternoon does nothing more
            again = sweep(stack, desk, mon + timedelta(hours=5), ticket_id)
            assert [r["writes_sent"] for r in again] == [0] and "strike-2 due" in outcomes(again)[0]
    notes = [c.body for c in desk_api.get_ticket(ticket_id).comments if not c.public]
    assert any("Follow-up strike 2/3 sent" in n and "strike 3 due" in n for n in notes), notes
    assert any(n.startswith("Task for") and "voicemail" in n for n in notes)

    rows = sweep(stack, desk, mon + timedelta(days=3), ticket_id)
    assert outcomes(rows) == ["resolved: User not responded"]
    ticket = desk_api.get_ticket(ticket_id)
    assert ticket.status is Status.SOLVED
    assert resolution(stack, desk, ticket_id) == "User not responded"
    assert set(STRIKES) | {"closure-user-not-responded"} <= set(ticket.tags)
    public = bot_public(ticket)[first_response:]
    assert len(public) == 4 and "Good day Cathy" in public[2] and "reply within 7 days" in public[3]


@pytest.mark.parametrize("desk", DESKS)
def test_a_reply_after_strike_two_restarts_the_count(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Login error on the portal")
    desk_api = stack.desk(desk)
    mon = monday(3)
    for day in (0, 1):
        assert outcomes(sweep(stack, desk, mon + timedelta(days=day), ticket_id)) == [f"strike {day + 1}/3 sent"]
    customer_reply(stack.sandbox_url, desk, "cathy@acme.test", ticket_id, "I use Firefox 128 on Windows.")
    assert desk_api.get_ticket(ticket_id).status is Status.OPEN
    assert outcomes(sweep(stack, desk, mon + timedelta(days=2), ticket_id)) == []  # waiting on support now

    # The agent asks one more question and waits again: strike 1 comes the next business day, not strike 3.
    ticket = desk_api.get_ticket(ticket_id)
    desk_api.apply(
        ticket, TicketChanges(status=Status.PENDING, comment=NewComment("Which version?", Visibility.PUBLIC))
    )
    rows = sweep(stack, desk, mon + timedelta(days=3), ticket_id)
    assert outcomes(rows) == ["strike 1/3 sent"]
    tags = set(desk_api.get_ticket(ticket_id).tags)
    assert "helpdesk-bot-strike-1" in tags and "helpdesk-bot-strike-2" not in tags
