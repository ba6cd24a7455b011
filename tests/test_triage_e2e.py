"""Triage end to end, per desk: sandbox ticket → signed webhook → intake → real worker → ticket changed.

The sandbox is the stateful fake desk served over HTTP, the web app is the real intake, and the worker is
a real `helpdesk-bot worker` process with the packaged default policy. Assertions read the ticket back
through the desk's own adapter, i.e. what an agent would see in the desk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.events import EventKind
from bot.domain.tickets import Status, Ticket, Visibility
from bot.eventlog import State
from tests.conftest import FIXTURES, wait_for
from tests.sandbox_helpers import audit_note, create_ticket
from tests.stack import Stack, running_stack

AGENTS = {"zendesk": {"101", "102", "103"}, "jira": {"agent-alice", "agent-bob", "agent-carol"}}
TRIAGED = "helpdesk-bot-triaged"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


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
        stack.sandbox_url,
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
    note = audit_note(stack.sandbox_url, desk, ticket_id) or ""
    assert "possible-bug" in note and "Assigned to" in note, "the triage note names the rule and the choice"
    assert any(a.get("rule") for a in rec.actions)

    # A dry-run replay decides as the first run did: every original action is `=`, nothing to write.
    before = (ticket.assignee_id, len(ticket.comments))
    preview = stack.cli("replay", rec.event.id, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    marks = [
        line.split()[0] for line in preview.stdout.splitlines() if line.startswith("  ") and line.split()[0] in "=+-"
    ]
    assert marks and set(marks) == {"="}, preview.stdout
    assert len(marks) == len(rec.actions), preview.stdout
    assert (
        f"first time: triage: triaged as {rec.decision.runbooks[0].outcome.split('triaged as ')[1]}" in preview.stdout
    )
    assert "writes: none (everything is already in effect)" in preview.stdout

    # A real replay writes nothing more and keeps the first decision beside its own.
    replay = stack.cli("replay", rec.event.id)
    assert replay.returncode == 0, replay.stderr
    assert "writes sent: 0" in replay.stdout, replay.stdout
    again = adapter.get_ticket(ticket_id)
    assert (again.assignee_id, len(again.comments)) == before
    kept = stack.log.get(rec.event.id)
    assert kept is not None and kept.decision == rec.decision and len(kept.replays) == 1
    listing = stack.cli("events", "--desk", desk, "--ticket", ticket_id)
    assert "triage: triaged as" in listing.stdout and "replayed" in listing.stdout, listing.stdout


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_ticket_assigned_by_a_human_is_not_reassigned(stack: Stack, desk: str) -> None:
    """The ticket already has an assignee when the bot first reads it: the decision has no Assign at all."""
    carol = "103" if desk == "zendesk" else "agent-carol"
    if desk == "zendesk":  # an agent opens it already assigned: one API call, one webhook
        ticket_id = create_ticket(
            stack.sandbox_url,
            desk,
            "gary@globex.test",
            "Question about invoices",
            "Where is my invoice?",
            assignee=carol,
        )
    else:  # JSM cannot assign in the create call: assign before the desk's webhook goes out
        jira = stack.sandboxes["jira"]
        with jira._lock:  # type: ignore[attr-defined]
            issue = jira._create(  # type: ignore[attr-defined]
                "SD",
                "cust-gary",
                {"summary": "Question about invoices", "description": "Where is my invoice?"},
                emit=False,
            )
            issue["fields"]["assignee"] = jira.state.users[carol]  # type: ignore[attr-defined]
            jira._emit("jira:issue_created", "issue_created", issue, "cust-gary")  # type: ignore[attr-defined]
        ticket_id = str(issue["key"])
    rec = processed(stack, desk, ticket_id)
    assert not [a for a in rec.actions if a["action"] == "Assign"], rec.actions
    assert any("never reassigned" in (a.get("body") or "") for a in rec.actions)  # said in the triage note
    assert stack.desk(desk).get_ticket(ticket_id).assignee_id == carol


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_phone_only_request_is_answered_and_resolved(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(
        stack.sandbox_url,
        desk,
        "gary@globex.test",
        "Please reset my password",
        "I forgot my password, please reset it.",
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
    ticket_id = create_ticket(stack.sandbox_url, desk, "sam@example.com", "Fwd: Export is broken", body)
    processed(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.requester.email == "cathy@acme.test"
    sam = "105" if desk == "zendesk" else "agent-sam"
    gary = "302" if desk == "zendesk" else "cust-gary"
    assert sam in ticket.participant_ids and gary in ticket.participant_ids


def test_triage_command_dry_run_prints_the_decision_and_writes_nothing(stack: Stack) -> None:
    zendesk = stack.sandboxes["zendesk"]
    with zendesk._lock:  # type: ignore[attr-defined]
        raw = zendesk._create_ticket(  # type: ignore[attr-defined]
            301, {"subject": "App crashes on start", "comment": {"body": "The iOS app crashes."}}, emit=False
        )
    ticket_id = str(raw["id"])
    dry = stack.cli("triage", ticket_id, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing written" in dry.stdout
    assert "rule: possible-bug" in dry.stdout and "round-robin turn" in dry.stdout
    assert "Hello Cathy" in dry.stdout and "write: assignee_id=" in dry.stdout
    untouched = stack.desk("zendesk").get_ticket(ticket_id)
    assert untouched.assignee_id is None and len(untouched.comments) == 1

    done = stack.cli("triage", ticket_id)
    assert done.returncode == 0, done.stderr
    assert stack.desk("zendesk").get_ticket(ticket_id).assignee_id in AGENTS["zendesk"]
    again = stack.cli("triage", ticket_id, "--dry-run")
    assert "not triaged: already triaged" in again.stdout


def test_rate_limited_desk_is_retried_after_retry_after_and_acts_once(stack: Stack) -> None:
    """Zendesk answers 429 (Retry-After: 1) twice: the task waits it out, then triages exactly once."""
    zendesk = stack.sandboxes["zendesk"]
    with zendesk._lock:  # type: ignore[attr-defined]
        raw = zendesk._create_ticket(  # type: ignore[attr-defined]
            302, {"subject": "Question on seats", "comment": {"body": "How many seats?"}}, emit=False
        )
    ticket_id = str(raw["id"])
    zendesk.control.fail_next(2, 429, retry_after=1)
    zendesk._emit("ticket.created", raw, 302)  # type: ignore[attr-defined]  # the desk's webhook, after the faults are set
    rec = processed(stack, "zendesk", ticket_id)
    assert rec.attempts >= 2
    ticket = stack.desk("zendesk").get_ticket(ticket_id)
    assert len(bot_comments(ticket, Visibility.PUBLIC)) == 1


def test_event_for_a_missing_ticket_is_dead_lettered_and_listed_as_failed(stack: Stack) -> None:
    """A permanent error (404) is not retried: the event is `failed`, visible and replayable."""
    import json
    import uuid

    import requests

    from connectors.zendesk.webhook import sign

    payload = json.loads((FIXTURES / "zendesk" / "webhooks" / "ticket.created__documented_example.json").read_text())
    payload["id"] = str(uuid.uuid4())
    payload["detail"]["id"] = "987654"
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **sign(stack.env["ZENDESK_WEBHOOK_SECRET"], body)}
    web_url = stack.sandboxes["zendesk"].emitter.url
    assert web_url
    accepted = requests.post(web_url, data=body, headers=headers, timeout=10)
    assert accepted.status_code == 202
    event_id = accepted.json()["event_id"]

    def failed() -> object:
        rec = stack.log.get(event_id)
        return rec if rec and rec.state is State.FAILED else None

    rec = wait_for(failed, timeout=30)
    assert "404" in rec.error and rec.attempts == 1, stack.worker.logs()[-5000:]
    listing = stack.cli("events", "--state", "failed")
    assert event_id in listing.stdout and "987654" in listing.stdout
