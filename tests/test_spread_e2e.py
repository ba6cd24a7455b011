"""Sweep messages spread over the customer's business day, end to end on both sandbox desks: two tickets whose
strike fell due before the same night get it at two different times of the customer's next business day (New
York), each at its own slot and neither before, driven by the real CLI (`helpdesk-bot sweep --at`, no sleeping).
The policy is the packaged default (spread on, window 10:00-16:00) with Acme's customers in New York."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.domain.tickets import Role, Status, Ticket
from bot.policy import spread
from bot.policy.calendar import BusinessCalendar, calendar_for
from bot.policy.followup import when
from bot.policy.schema import DEFAULT_POLICY, Policy, load_policy
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, running_stack
from tests.test_runbooks_e2e import created_event

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("spread")
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["calendar"]["organizations"] = {"acme": {"timezone": "America/New_York"}}
    for desk in DESKS:  # the sweeps here run back to back: the API budget is not what is tested
        data["desks"][desk]["api_budget"] = {"per_minute": 100_000}
    policy = home / "policy.yaml"
    policy.write_text(yaml.safe_dump(data))
    with running_stack(home, extra_env={"HELPDESK_BOT_POLICY": str(policy)}) as running:
        yield running


def policy_of(stack: Stack) -> Policy:
    return load_policy(Path(stack.env["HELPDESK_BOT_POLICY"]))


def waiting_ticket(stack: Stack, desk: str, subject: str) -> Ticket:
    """A technical-support ticket of Acme's Cathy: triage answers it asking for details, so it waits on her."""
    ticket_id = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", subject, "It shows an error since today.")
    created_event(stack, desk, ticket_id)
    stack.settled(desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.PENDING
    return ticket


def next_monday(weeks: int) -> datetime:
    """00:00 in New York on a Monday at least `weeks` weeks ahead: the night before the customer's business day."""
    today = datetime.now(NEW_YORK).date()
    day = today + timedelta(days=7 * weeks + (7 - today.weekday()))
    return datetime.combine(day, time(0), tzinfo=NEW_YORK)


def strike_rows(stack: Stack, desk: str, at: datetime, ids: set[str]) -> dict[str, dict[str, Any]]:
    """`helpdesk-bot sweep --desk D --at AT --json`: the follow-up ladder's row of each of `ids`."""
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["ticket"]: r for r in rows if r["ticket"] in ids and r["runbook"] == "followup-ladder"}


def struck(stack: Stack, desk: str, ticket_id: str) -> bool:
    """Whether strike 1 is on the ticket in the desk: its tag and its public comment (after triage's response)."""
    ticket = stack.desk(desk).get_ticket(ticket_id)
    public = [c for c in ticket.comments if c.public and c.author.role is Role.BOT]
    return "helpdesk-bot-strike-1" in ticket.tags and len(public) == 2


@pytest.mark.parametrize("desk", DESKS)
def test_two_strikes_due_the_same_night_go_out_at_each_tickets_own_slot(stack: Stack, desk: str) -> None:
    first, second = (waiting_ticket(stack, desk, f"Report export fails ({n})") for n in (1, 2))
    ids = {first.id, second.id}
    cal: BusinessCalendar = calendar_for(policy_of(stack), desk, first.organization_id)
    assert str(cal.zone) == "America/New_York"  # the customer's calendar
    night = next_monday(2)  # strike 1 of both fell due long before; the sweep runs at midnight in New York
    slots = {t: spread.sends_at(policy_of(stack), desk, t, cal, night) for t in ids}
    early, late = sorted(ids, key=lambda t: slots[t])
    assert slots[early] < slots[late] and all(cal.local(s).date() == night.date() for s in slots.values())
    assert all(time(10) <= cal.local(s).time() < time(16) for s in slots.values())

    status = stack.cli("status", first.id, "--desk", desk)  # what an agent sees before the step goes out
    assert status.returncode == 0 and "next: strike-1 at " in status.stdout and "goes out: " in status.stdout, status

    at_night = strike_rows(stack, desk, night, ids)
    for ticket_id in ids:  # nothing at 00:00: each row says when it will go, its slot
        row = at_night[ticket_id]
        assert row["actions"] == [] and datetime.fromisoformat(row["due"]) == slots[ticket_id], row
        assert f"sent at the ticket's slot of the customer's day, {when(cal.local(slots[ticket_id]))}" in row["outcome"]
    opening = night.replace(hour=9)
    assert all(not r["actions"] for r in strike_rows(stack, desk, opening, ids).values())  # not at the opening

    before = strike_rows(stack, desk, slots[early] - timedelta(minutes=1), ids)
    assert all(not r["actions"] for r in before.values())
    assert not struck(stack, desk, early) and not struck(stack, desk, late)

    at_early = strike_rows(stack, desk, slots[early], ids)
    assert at_early[early]["outcome"] == "strike 1/3 sent" and not at_early[late]["actions"]
    assert datetime.fromisoformat(at_early[late]["due"]) == slots[late]
    assert struck(stack, desk, early) and not struck(stack, desk, late)

    assert not strike_rows(stack, desk, slots[late] - timedelta(minutes=1), ids)[late]["actions"]
    assert strike_rows(stack, desk, slots[late], ids)[late]["outcome"] == "strike 1/3 sent"
    assert struck(stack, desk, late)
    for ticket_id in ids:  # each strike is recorded as of its own slot (the follow-up field, or a note)
        ticket = stack.desk(desk).get_ticket(ticket_id)
        records = [ticket.followup_state or "", *(c.body for c in ticket.comments)]
        assert any(f"strike-1 as of {slots[ticket_id].astimezone(UTC).isoformat()}" in r for r in records), records
