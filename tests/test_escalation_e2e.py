"""Escalation end to end on both sandbox desks: a VIP organization, a repeat customer, an outage reported in
German, a priority an agent raised, and an SLA clock about to breach (driven by `helpdesk-bot sweep --at`) each
raise the ticket, move it to the escalation group, post one chat alert with the ticket's link and leave an
internal note. Duplicate deliveries, replays, later events and sweeps never post an alert twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import yaml

from bot.domain.events import EventKind
from bot.domain.tickets import Ticket, Visibility
from bot.eventlog import EventRecord, State
from bot.policy.calendar import BusinessCalendar
from bot.policy.schema import DEFAULT_POLICY, Calendar
from tests.conftest import wait_for
from tests.sandbox_helpers import DEMO_IDS, create_ticket, customer_reply
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
CATHY, GARY = "cathy@acme.test", "gary@globex.test"
ESCALATION_GROUP = {"zendesk": "202", "jira": None}  # Jira issues have no group: the assignee says it
PRIORITY = {"zendesk": {"high": "high", "urgent": "urgent"}, "jira": {"high": "High", "urgent": "Highest"}}
RULES = [
    {"name": "vip", "when": {"organizations": ["globex"]}, "priority": "high"},
    {"name": "repeat", "when": {"repeat": {"tickets": 3, "days": 1}, "words": ["invoice"]}, "priority": "high"},
    {"name": "outage", "when": {"outage": True}, "priority": "urgent"},
    {"name": "urgent", "when": {"priorities": ["urgent"], "words": ["checkout"]}, "move": False},
    {"name": "sla", "when": {"sla_minutes_left": 30, "words": ["renewal"]}, "priority": "urgent"},
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("escalation")
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    # No first response: JSM's first-response SLA clock stops at the first public reply from support.
    policy["triage"]["first_response"] = False
    policy["pings"]["enabled"] = False
    policy["followup"]["enabled"] = False
    policy["chat"] = {"webhooks": {"alerts": "https://hooks.slack.com/services/T0E2E/B0E2E/escalations"}}
    policy["escalation"] = {"enabled": True, "group": "escalations", "channel": "alerts", "rules": RULES}
    for desk in DESKS:  # these tests sweep whole desks
        policy["desks"][desk]["api_budget"] = {"per_minute": 5000}
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True))
    with running_stack(home, extra_env={"HELPDESK_BOT_POLICY": str(path)}) as running:
        yield running


def handled(stack: Stack, desk: str, ticket_id: str, count: int = 1) -> list[EventRecord]:
    """The ticket's events once `count` of them are done."""

    def done() -> list[EventRecord] | None:
        records = stack.log.records(stack.log.ticket_event_ids(desk, ticket_id))
        finished = [r for r in records if r.state is State.DONE]
        return finished if len(finished) >= count else None

    return wait_for(done, timeout=40, interval=0.2)  # type: ignore[no-any-return]


def alerts(stack: Stack, desk: str, ticket_id: str, rule: str | None = None) -> list[dict[str, Any]]:
    """The chat posts the sandbox recorded for this ticket (and rule)."""
    posts = requests.get(f"{stack.sandbox_url}/_sandbox/chat/posts", timeout=10).json()
    mine = [p for p in posts if f"{desk} #{ticket_id} " in (p["text"] or "")]
    return [p for p in mine if rule is None or f"Escalation ({rule})" in p["text"]]


def notes(ticket: Ticket, rule: str) -> list[str]:
    return [
        c.body
        for c in ticket.comments
        if c.visibility is Visibility.INTERNAL and c.body.startswith(f"Escalated by rule {rule!r}")
    ]


def escalated(stack: Stack, desk: str, ticket_id: str, rule: str) -> Ticket:
    wait_for(lambda: alerts(stack, desk, ticket_id, rule), timeout=40, interval=0.2)
    return wait_for(  # type: ignore[no-any-return]
        lambda: (t := stack.desk(desk).get_ticket(ticket_id)) and f"helpdesk-bot-escalated-{rule}" in t.tags and t,
        timeout=20,
    )


def assert_moved(ticket: Ticket, desk: str) -> None:
    assert ticket.assignee_id == DEMO_IDS[desk]["bob"]  # the escalation group's only agent
    if ESCALATION_GROUP[desk]:
        assert ticket.group_id == ESCALATION_GROUP[desk]


def sweep(stack: Stack, desk: str, at: datetime) -> list[dict[str, Any]]:
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("desk", DESKS)
def test_a_vip_organizations_ticket_is_raised_moved_alerted_and_noted(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, GARY, "Question about limits", "What are our API limits?")
    ticket = escalated(stack, desk, ticket_id, "vip")
    assert ticket.priority == PRIORITY[desk]["high"]
    assert_moved(ticket, desk)
    [note] = notes(ticket, "vip")
    assert "VIP organization globex" in note and "priority raised" in note and "moved to escalations" in note
    [post] = alerts(stack, desk, ticket_id, "vip")
    assert post["service"] == "slack" and post["channel"] == "T0E2E/B0E2E"
    assert ticket.url and ticket.url in post["text"]  # the link agents open


@pytest.mark.parametrize("desk", DESKS)
def test_an_outage_in_german_is_alerted_once_across_duplicates_replays_replies_and_sweeps(
    stack: Stack, desk: str
) -> None:
    ticket_id = create_ticket(
        stack.sandbox_url, desk, CATHY, "Shop nicht erreichbar", "Totalausfall seit 9 Uhr, niemand kann bestellen."
    )
    ticket = escalated(stack, desk, ticket_id, "outage")
    assert ticket.priority == PRIORITY[desk]["urgent"]
    assert_moved(ticket, desk)
    [note] = notes(ticket, "outage")
    assert "outage word 'Totalausfall'" in note
    [created] = [r for r in handled(stack, desk, ticket_id) if r.event.kind is EventKind.TICKET_CREATED]

    if desk == "zendesk":  # the desk delivers the same webhook again: a duplicate, nothing done twice
        emitter = stack.sandboxes[desk].emitter
        original = next(s["body"] for s in emitter.sent if s.get("body", {}).get("detail", {}).get("id") == ticket_id)
        before = len(emitter.sent)
        emitter.emit(original)
        wait_for(lambda: len(emitter.sent) > before, timeout=10)
        assert emitter.sent[-1]["status"] == 200
    replay = stack.cli("replay", created.event.id)
    assert replay.returncode == 0, replay.stderr
    customer_reply(stack.sandbox_url, desk, CATHY, ticket_id, "Still an outage, please hurry!")
    handled(stack, desk, ticket_id, count=2)
    sweep(stack, desk, datetime.now(ticket.created_at.tzinfo) + timedelta(days=3))

    assert len(alerts(stack, desk, ticket_id, "outage")) == 1
    assert len(notes(stack.desk(desk).get_ticket(ticket_id), "outage")) == 1


@pytest.mark.parametrize("desk", DESKS)
def test_a_priority_an_agent_raises_escalates_on_the_update(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, CATHY, "Checkout question", "Can I pay later by bank transfer?")
    handled(stack, desk, ticket_id)
    assert alerts(stack, desk, ticket_id) == []
    agent = ("alice@example.com/token", "x") if desk == "zendesk" else ("alice@example.com", "x")
    if desk == "zendesk":
        url, body = f"{stack.sandbox_url}/api/v2/tickets/{ticket_id}.json", {"ticket": {"priority": "urgent"}}
    else:
        url, body = f"{stack.sandbox_url}/rest/api/3/issue/{ticket_id}", {"fields": {"priority": {"name": "Highest"}}}
    assert requests.put(url, json=body, auth=agent, timeout=10).ok

    ticket = escalated(stack, desk, ticket_id, "urgent")
    [note] = notes(ticket, "urgent")
    assert f"priority {PRIORITY[desk]['urgent']}" in note
    assert "moved" not in note  # `move: false`


@pytest.mark.parametrize("desk", DESKS)
def test_a_repeat_customers_third_ticket_in_a_day_is_escalated(stack: Stack, desk: str) -> None:
    email = f"rita-{uuid.uuid4().hex[:6]}@initech.test"
    new_customer(stack, desk, email)
    first = create_ticket(stack.sandbox_url, desk, email, "Invoice missing", "Where is my invoice for March?")
    second = create_ticket(stack.sandbox_url, desk, email, "Invoice wrong", "The invoice has the wrong address.")
    for ticket_id in (first, second):
        handled(stack, desk, ticket_id)
        assert alerts(stack, desk, ticket_id) == []
    third = create_ticket(stack.sandbox_url, desk, email, "Invoice again", "Still no correct invoice.")
    ticket = escalated(stack, desk, third, "repeat")
    [note] = notes(ticket, "repeat")
    assert "repeat customer: 3 tickets from this requester in 1 days" in note
    assert ticket.priority == PRIORITY[desk]["high"]


@pytest.mark.parametrize("desk", DESKS)
def test_an_sla_about_to_breach_is_escalated_by_the_sweep_once(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, CATHY, "Contract renewal", "When is our renewal due?")
    handled(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    if desk == "jira":  # the sandbox's "Time to first response": 4 hours from creation
        boundary = ticket.created_at + timedelta(hours=4)
    else:  # the policy's target for a ticket without priority: 8 business hours (Mon-Fri 09-17 UTC)
        boundary = BusinessCalendar.from_settings(Calendar()).add_business_hours(ticket.created_at, 8)

    def row(at: datetime) -> dict[str, Any]:
        rows = [r for r in sweep(stack, desk, at) if r["ticket"] == ticket_id and r["runbook"] == "escalation-sla"]
        assert len(rows) == 1, rows
        return rows[0]

    assert row(boundary - timedelta(minutes=45))["outcome"] == "no rule holds"
    assert alerts(stack, desk, ticket_id) == []
    assert row(boundary - timedelta(minutes=15))["outcome"] == "escalated by sla"
    assert row(boundary - timedelta(minutes=10))["outcome"] == "no rule holds (already escalated by: sla)"
    [post] = alerts(stack, desk, ticket_id, "sla")
    assert "15 min left (threshold 30 min)" in post["text"]
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.priority == PRIORITY[desk]["urgent"] and len(notes(ticket, "sla")) == 1
    assert_moved(ticket, desk)


def new_customer(stack: Stack, desk: str, email: str) -> None:
    """A customer the demo desk does not know yet, made the way an agent would."""
    if desk == "zendesk":
        user = {"user": {"name": "Rita Repeat", "email": email, "role": "end-user"}}
        resp = requests.post(
            f"{stack.sandbox_url}/api/v2/users.json", json=user, auth=("alice@example.com/token", "x"), timeout=10
        )
    else:
        body = {"email": email, "displayName": "Rita Repeat"}
        resp = requests.post(
            f"{stack.sandbox_url}/rest/servicedeskapi/customer", json=body, auth=("alice@example.com", "x"), timeout=10
        )
    assert resp.status_code == 201, resp.text
