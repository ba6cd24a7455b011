"""Triage end to end, per desk: sandbox ticket → signed webhook → intake → real worker → ticket changed.

The sandbox is the stateful fake desk served over HTTP, the web app is the real intake, and the worker is
a real `helpdesk-bot worker` process with the packaged default policy. Assertions read the ticket back
through the desk's own adapter, i.e. what an agent would see in the desk.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests

from bot.app import create_app
from bot.eventlog import EventLog, State
from bot.events import EventKind
from connectors.base import DeskConfig, Helpdesk, Status, Ticket, Visibility
from connectors.sandboxes import build, point_webhooks
from tests.conftest import TEST_REDIS_URL, BotProcesses, ServedApp, cleanup_prefix, wait_for
from tests.test_intake import make_settings

SECRETS = {"zendesk": "zd-e2e-secret", "jira": "jira-e2e-secret"}
AGENTS = {"zendesk": {"101", "102", "103"}, "jira": {"agent-alice", "agent-bob", "agent-carol"}}
TRIAGED = "helpdesk-bot-triaged"


@dataclass
class Stack:
    sandbox_url: str
    log: EventLog
    worker: BotProcesses
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`helpdesk-bot ARGS` as an operator runs it beside the worker (same Redis, desks and secrets)."""
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env={**self.worker.env, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def desk(self, name: str) -> Helpdesk:
        adapter = importlib.import_module(f"connectors.{name}.adapter")
        return adapter.build(DeskConfig(url=self.sandbox_url, email="bot@example.com", token="x"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"hbtest:{uuid.uuid4().hex[:10]}:"
    home = tmp_path_factory.mktemp("e2e")
    app, sandboxes = build(seed=True)
    sandbox = ServedApp(app)
    settings = make_settings(prefix, home).model_copy(
        update={
            "zendesk_url": sandbox.url,
            "jira_url": sandbox.url,
            "zendesk_webhook_secret": SECRETS["zendesk"],
            "jira_webhook_secret": SECRETS["jira"],
        }
    )
    web = ServedApp(create_app(settings))
    point_webhooks(sandboxes, web.url, SECRETS)
    worker = BotProcesses(prefix, home)
    env: dict[str, str] = {}
    for desk in ("zendesk", "jira"):
        upper = desk.upper()
        env.update(
            {
                f"{upper}_URL": sandbox.url,
                f"{upper}_EMAIL": "bot@example.com",
                f"{upper}_API_TOKEN": "x",
                f"{upper}_WEBHOOK_SECRET": SECRETS[desk],
            }
        )
    worker.start("worker", "--concurrency", "2", extra_env=env)
    yield Stack(sandbox.url, EventLog(redis.Redis.from_url(TEST_REDIS_URL), prefix), worker, env)
    worker.stop()
    web.close()
    sandbox.close()
    cleanup_prefix(prefix)


def create_ticket(stack: Stack, desk: str, author: str, subject: str, body: str, **extra: Any) -> str:
    """Create a ticket the way a customer (or a staff member) does it on the real desk."""
    if desk == "zendesk":
        ticket = {"subject": subject, "comment": {"body": body}, **extra}
        resp = requests.post(
            f"{stack.sandbox_url}/api/v2/tickets.json",
            json={"ticket": ticket},
            auth=(f"{author}/token", "x"),
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["ticket"]["id"])
    request = {
        "serviceDeskId": "1",
        "requestTypeId": "1",
        "requestFieldValues": {"summary": subject, "description": body},
    }
    resp = requests.post(
        f"{stack.sandbox_url}/rest/servicedeskapi/request", json=request, auth=(author, "x"), timeout=10
    )
    assert resp.status_code == 201, resp.text
    key = str(resp.json()["issueKey"])
    if extra.get("assignee_id"):
        assigned = requests.put(
            f"{stack.sandbox_url}/rest/api/3/issue/{key}/assignee",
            json={"accountId": extra["assignee_id"]},
            auth=("alice@example.com", "x"),
            timeout=10,
        )
        assert assigned.status_code == 204, assigned.text
    return key


def processed(stack: Stack, desk: str, ticket_id: str) -> Any:
    """The ticket_created event of this ticket once the worker finished it."""

    def done() -> Any:
        for rec in stack.log.records(stack.log.ticket_event_ids(desk, ticket_id)):
            if rec.event.kind is EventKind.TICKET_CREATED and rec.state in (State.DONE, State.FAILED):
                return rec
        return None

    try:
        rec = wait_for(done, timeout=40, interval=0.2)
    except AssertionError:
        pytest.fail(f"{desk} ticket {ticket_id} was not processed; worker log:\n{stack.worker.logs()[-6000:]}")
    assert rec.state is State.DONE, rec.error
    return rec


def bot_comments(ticket: Ticket, visibility: Visibility) -> list[str]:
    return [c.body for c in ticket.comments if c.author.email == "bot@example.com" and c.visibility is visibility]


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_new_ticket_is_assigned_typed_and_answered_once(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(
        stack,
        desk,
        "cathy@acme.test",
        "Production API returns 500 since 10:00",
        "Every call to /v1/orders fails with 500.",
    )
    rec = processed(stack, desk, ticket_id)
    adapter = stack.desk(desk)
    ticket = adapter.get_ticket(ticket_id)
    assert ticket.assignee_id in AGENTS[desk]
    assert ticket.request_type
    assert TRIAGED in ticket.tags
    public = bot_comments(ticket, Visibility.PUBLIC)
    assert len(public) == 1 and "Cathy" in public[0] and ticket_id in public[0]
    assert bot_comments(ticket, Visibility.INTERNAL), "the triage note names the rule that matched"
    assert any(a.get("rule") for a in rec.actions)

    # The same event again (a replay or a redelivery) changes nothing more.
    before = (ticket.assignee_id, len(ticket.comments))
    replay = stack.cli("replay", rec.event.id)
    assert replay.returncode == 0, replay.stderr
    assert "+ " not in replay.stdout  # no action the first run did not already do
    again = adapter.get_ticket(ticket_id)
    assert (again.assignee_id, len(again.comments)) == before


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_ticket_assigned_by_a_human_is_not_reassigned(stack: Stack, desk: str) -> None:
    carol = "103" if desk == "zendesk" else "agent-carol"
    ticket_id = create_ticket(
        stack,
        desk,
        "gary@globex.test",
        "Question about invoices",
        "Where can I download my invoice?",
        assignee_id=carol,
    )
    processed(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.assignee_id == carol


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_phone_only_request_is_answered_and_resolved(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(
        stack, desk, "gary@globex.test", "Please reset my password", "I forgot my password, please reset it."
    )
    processed(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.SOLVED
    public = bot_comments(ticket, Visibility.PUBLIC)
    assert public and "call" in public[0].lower()


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_forwarded_mail_makes_the_customer_the_reporter(stack: Stack, desk: str) -> None:
    body = (
        "Hi team, see below.\n\n---------- Forwarded message ---------\n"
        "From: Cathy Customer <cathy@acme.test>\nDate: Mon, 2 Mar 2026 at 09:12\n"
        "Subject: Export is broken\nTo: Sam Staff <sam@example.com>\nCc: Gary Globex <gary@globex.test>\n\n"
        "The CSV export fails with an error since yesterday."
    )
    ticket_id = create_ticket(stack, desk, "sam@example.com", "Fwd: Export is broken", body)
    processed(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.requester.email == "cathy@acme.test"
    sam = "105" if desk == "zendesk" else "agent-sam"
    gary = "302" if desk == "zendesk" else "cust-gary"
    assert sam in ticket.participant_ids and gary in ticket.participant_ids
