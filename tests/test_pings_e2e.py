"""The ping runbook on both sandbox desks, driven by `helpdesk-bot sweep --at`: the cadence skips a weekend and
a public holiday (the soonest of a few countries' calendars), a draft note holds the SLA, three events, next
steps and the mood, and a posted update goes out once per due time even when two sweeps run at the same moment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
import requests
import yaml

from bot.domain.tickets import Role, Ticket, Visibility
from bot.eventlog import State
from bot.policy import spread
from bot.policy.calendar import BusinessCalendar, calendar_for
from bot.policy.schema import DEFAULT_POLICY, Calendar, load_policy
from tests.conftest import wait_for
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
CATHY = "cathy@acme.test"
COUNTRIES = ("ES", "IT", "AT", "PT", "PL", "US", "GB", "DE", "FR", "JP", "IN", "BR")


def next_public_holiday(today: date) -> tuple[str, date]:
    """The country (of a few) whose next public holiday on a weekday comes soonest after tomorrow, and that day."""
    found = []
    for code in COUNTRIES:
        days = holidays.country_holidays(code, years=(today.year, today.year + 1))
        upcoming = sorted(d for d in days if d > today + timedelta(days=1) and d.weekday() < 5)
        found.append((upcoming[0], code))
    day, code = min(found)
    return code, day


COUNTRY, HOLIDAY = next_public_holiday(datetime.now(UTC).date())
CALENDAR = Calendar(timezone="UTC", hours="09:00-17:00", country=COUNTRY)
WORKDAYS_BEFORE = sum(
    1
    for n in range(1, (HOLIDAY - datetime.now(UTC).date()).days)
    if (datetime.now(UTC).date() + timedelta(days=n)).weekday() < 5
)
HOURS = 8 * max(6, WORKDAYS_BEFORE + 2)
"""Business hours without a public update before a ping is due: at least six business days (always across a
weekend), and past the public holiday."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("pings")
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["calendar"] = json.loads(CALENDAR.model_dump_json(exclude={"organizations"}))
    policy["pings"] = {"enabled": True, "open_every_hours": HOURS, "request_types": {"incident": "post"}}
    for desk in DESKS:  # these tests sweep the whole desk several times a minute
        policy["desks"][desk]["api_budget"] = {"per_minute": 5000}
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    with running_stack(home, extra_env={"HELPDESK_BOT_POLICY": str(path)}) as running:
        yield running


def triaged(stack: Stack, desk: str, ticket_id: str) -> Ticket:
    def done() -> bool:
        ids = stack.log.ticket_event_ids(desk, ticket_id)
        return any(rec.state is State.DONE for rec in stack.log.records(ids))

    wait_for(done, timeout=40, interval=0.2)
    return stack.desk(desk).get_ticket(ticket_id)


def customer_comment(stack: Stack, desk: str, ticket_id: str, author: str, body: str) -> None:
    """The customer answers through the desk's own customer API."""
    if desk == "zendesk":
        url = f"{stack.sandbox_url}/api/v2/requests/{ticket_id}.json"
        comment = {"request": {"comment": {"body": body}}}
        resp = requests.put(url, json=comment, auth=(f"{author}/token", "x"), timeout=10)
    else:
        url = f"{stack.sandbox_url}/rest/servicedeskapi/request/{ticket_id}/comment"
        resp = requests.post(url, json={"body": body, "public": True}, auth=(author, "x"), timeout=10)
    assert resp.status_code in (200, 201), resp.text


def due_time(ticket: Ticket) -> tuple[datetime, datetime]:
    """The last public update from support and the ping due `HOURS` business hours later."""
    anchor = max(c.created_at for c in ticket.comments if c.public and c.author.role is not Role.CUSTOMER)
    return anchor, BusinessCalendar.from_settings(CALENDAR).add_business_hours(anchor, HOURS)


def ping_rows(output: str, ticket_id: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [r for r in rows if r["ticket"] == ticket_id and r["runbook"] == "ping"]


def sweep(stack: Stack, desk: str, at: datetime) -> list[dict[str, Any]]:
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("desk", DESKS)
def test_a_draft_for_the_assignee_is_due_after_business_hours_across_a_weekend_and_a_public_holiday(
    stack: Stack, desk: str
) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, CATHY, "Export", "The CSV export. Thanks, great tool!")
    anchor, due = due_time(triaged(stack, desk, ticket_id))
    customer_comment(stack, desk, ticket_id, CATHY, "This is terrible, still broken. Is there a workaround?")
    between = {anchor.date() + timedelta(days=n) for n in range((due.date() - anchor.date()).days)}
    assert HOLIDAY in between and any(d.weekday() == 5 for d in between)  # the window spans both
    no_holidays = BusinessCalendar.from_settings(Calendar(timezone="UTC", hours="09:00-17:00"))
    assert due - no_holidays.add_business_hours(anchor, HOURS) >= timedelta(hours=16)  # the holiday is no workday

    before = [r for r in sweep(stack, desk, due - timedelta(minutes=1)) if r["ticket"] == ticket_id]
    [waiting] = [r for r in before if r["runbook"] == "ping"]
    assert waiting["outcome"].startswith("next update due") and waiting["writes_sent"] == 0
    notes_before = len(stack.desk(desk).get_ticket(ticket_id).comments)

    [drafted] = [r for r in sweep(stack, desk, due) if r["ticket"] == ticket_id and r["runbook"] == "ping"]
    assert drafted["outcome"] == "update drafted" and drafted["writes_sent"] >= 1
    ticket = stack.desk(desk).get_ticket(ticket_id)
    [note] = [c.body for c in ticket.comments[notes_before:] if c.visibility is Visibility.INTERNAL]
    events = note.split("Last three events:\n")[1].split("\n\n")[0].splitlines()
    assert len(events) == 3 and all(e.startswith("- ") for e in events)
    assert "This is terrible" in events[-1]
    assert "- Answer: “Is there a workaround?”" in note
    assert "Customer mood: negative (-" in note and "“This is terrible, still broken." in note
    assert "Raise the priority" in note  # the mood fell from the thanks to the complaint
    sla = "Time to first response: met" if desk == "jira" else "next reply (8 business hours): breached"
    assert sla in note
    assert not any(c.public for c in ticket.comments[notes_before:])  # nothing reached the customer

    again = [r for r in sweep(stack, desk, due) if r["ticket"] == ticket_id and r["runbook"] == "ping"]
    assert again[0]["outcome"].startswith("next update due") and again[0]["writes_sent"] == 0
    assert len(stack.desk(desk).get_ticket(ticket_id).comments) == len(ticket.comments)


@pytest.mark.parametrize("desk", DESKS)
def test_a_posted_update_goes_out_once_per_due_time_when_two_sweeps_overlap(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(
        stack.sandbox_url, desk, "cathy@acme.test", "Production is down", "Production is down for everyone."
    )
    ticket = triaged(stack, desk, ticket_id)
    stack.settled(desk, ticket_id)  # a sweep skips a ticket whose events are still being handled
    _, due = due_time(ticket)
    policy = load_policy(Path(stack.env["HELPDESK_BOT_POLICY"]))  # a posted update waits for the ticket's slot
    sends = spread.sends_at(policy, desk, ticket_id, calendar_for(policy, desk, ticket.organization_id), due)
    command = [sys.executable, "-m", "bot.cli", "sweep", "--desk", desk, "--at", sends.isoformat(), "--json"]
    env = {**stack.worker.env, **stack.env}
    both = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [p.communicate(timeout=120) for p in both]
    assert all(p.returncode == 0 for p in both), [err for _, err in outputs]
    outcomes = [r["outcome"] for out, _ in outputs for r in ping_rows(out, ticket_id)]
    assert outcomes.count("update posted") == 1, outcomes

    after = stack.desk(desk).get_ticket(ticket_id)
    posted = [c.body for c in after.comments if c.public and "Here is where your request" in c.body]
    assert len(posted) == 1 and "Next steps:" in posted[0]
    assert "mood" not in posted[0].lower()  # the mood is never shown to the customer
