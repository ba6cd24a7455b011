"""The runbook registry end to end: several runbooks on one event in order, a periodic runbook driven by
`sweep --at`, a cross-desk action (a Zendesk ticket's bug in the Jira sandbox) made exactly once, and the
replay commands. The extra runbooks come from `tests/runbooks/demo.py`, loaded by the worker as a plugin.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import yaml

from bot.domain.events import EventKind
from bot.domain.tickets import Status, TicketChanges, Visibility
from bot.eventlog import EventRecord, State
from bot.locks import ticket_lock, ticket_lock_key
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.runbooks.demo import ACKED, NUDGED
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, policy_with_budgets, running_stack

pytestmark = pytest.mark.e2e
PLUGIN = {"HELPDESK_BOT_RUNBOOK_PLUGINS": "tests.runbooks.demo"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("runbooks")
    # The packaged policy without the follow-up ladder, so the demo runbooks are the only periodic ones here.
    roomy = policy_with_budgets(home, {desk: {"per_minute": 5000} for desk in ("zendesk", "jira")})  # many sweeps
    data = yaml.safe_load(pathlib.Path(roomy["HELPDESK_BOT_POLICY"]).read_text())
    data["followup"]["enabled"] = False
    pathlib.Path(roomy["HELPDESK_BOT_POLICY"]).write_text(yaml.safe_dump(data))
    with running_stack(home, extra_env={**PLUGIN, **roomy}) as running:
        yield running


def created_event(stack: Stack, desk: str, ticket_id: str) -> EventRecord:
    def done() -> EventRecord | None:
        for rec in stack.log.records(stack.log.ticket_event_ids(desk, ticket_id)):
            if rec.event.kind is EventKind.TICKET_CREATED and rec.state in (State.DONE, State.FAILED):
                return rec
        return None

    try:
        rec: EventRecord = wait_for(done, timeout=40, interval=0.2)
    except AssertionError:
        pytest.fail(f"ticket {ticket_id} was not processed; worker log:\n{stack.worker.logs()[-6000:]}")
    assert rec.state is State.DONE, rec.error
    return rec


def dev_issues_for(stack: Stack, ticket_id: str) -> list[dict[str, Any]]:
    label = f"helpdesk-bot-ref-zendesk-{ticket_id}"
    jira = stack.sandboxes["jira"]
    return [i for i in jira.state.issues.values() if label in i["fields"]["labels"]]  # type: ignore[attr-defined]


def test_runbooks_of_one_event_run_in_the_registry_order(stack: Stack) -> None:
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Login page is slow", "Takes 20 s.")
    rec = created_event(stack, "zendesk", ticket_id)
    assert rec.decision is not None
    assert [r.runbook for r in rec.decision.runbooks] == [
        "triage",
        "linked-bug",
        "config-change",
        "feedback",
        "feedback-reply",
        "escalation",
        "demo-ack",
        "demo-bug",
    ]
    ticket = stack.desk("zendesk").get_ticket(ticket_id)
    assert {ACKED, "helpdesk-bot-triaged"} <= set(ticket.tags)
    notes = [c.body for c in ticket.comments if c.visibility is Visibility.INTERNAL]
    assert any("demo-ack: triage ran first: True" in n for n in notes), notes
    assert dev_issues_for(stack, ticket_id) == []  # demo-bug decided "not a bug report"


def test_a_zendesk_tickets_bug_is_created_in_jira_once_under_a_duplicate_delivery(stack: Stack) -> None:
    ticket_id = create_ticket(
        stack.sandbox_url, "zendesk", "cathy@acme.test", "[bug] Export crashes", "1. Open Reports\n2. Export"
    )
    rec = created_event(stack, "zendesk", ticket_id)
    issues = dev_issues_for(stack, ticket_id)
    assert len(issues) == 1
    key = issues[0]["key"]
    remote = stack.sandboxes["jira"].state.remote_links[key]  # type: ignore[attr-defined]
    assert [link["object"]["title"] for link in remote] == [f"Zendesk ticket {ticket_id}"]

    # The desk delivers the same webhook again: recognised as a duplicate, nothing done twice.
    emitter = stack.sandboxes["zendesk"].emitter
    original = next(s["body"] for s in emitter.sent if s.get("body", {}).get("detail", {}).get("id") == ticket_id)
    sent_before = len(emitter.sent)
    emitter.emit(original)
    wait_for(lambda: len(emitter.sent) > sent_before, timeout=10)
    assert emitter.sent[-1]["status"] == 200
    # A real replay neither files a second bug nor writes the note again.
    replay = stack.cli("replay", rec.event.id)
    assert replay.returncode == 0, replay.stderr
    assert len(dev_issues_for(stack, ticket_id)) == 1
    notes = [c.body for c in stack.desk("zendesk").get_ticket(ticket_id).comments if c.body.startswith("Bug filed:")]
    assert len(notes) == 1 and key in notes[0]


def test_a_periodic_runbook_runs_from_sweep_as_of_the_given_instant(stack: Stack) -> None:
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "gary@globex.test", "Need a CSV", "Can you send it?")
    created_event(stack, "zendesk", ticket_id)
    desk = stack.desk("zendesk")
    desk.apply(desk.get_ticket(ticket_id), TicketChanges(status=Status.PENDING))
    comments = len(desk.get_ticket(ticket_id).comments)

    today = stack.cli("sweep", "--desk", "zendesk", "--dry-run")
    assert today.returncode == 0, today.stderr
    mine = [line for line in today.stdout.splitlines() if line.startswith(f"zendesk {ticket_id} ")]
    assert not any("demo-nudge" in line for line in mine)  # updated just now: not selected yet (pings look)

    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    preview = stack.cli("sweep", "--desk", "zendesk", "--dry-run", "--at", later)
    assert preview.returncode == 0, preview.stderr
    rows = [line for line in preview.stdout.splitlines() if line.startswith(f"zendesk {ticket_id} ")]
    row = next(line for line in rows if "demo-nudge" in line)
    assert "Comment(public)" in row and "pending and quiet" in row
    assert len(desk.get_ticket(ticket_id).comments) == comments  # a dry run writes nothing

    done = stack.cli("sweep", "--desk", "zendesk", "--at", later, "--json")
    assert done.returncode == 0, done.stderr
    mine = [r for r in map(json.loads, done.stdout.splitlines()) if r["ticket"] == ticket_id]
    nudges = [r for r in mine if r["runbook"] == "demo-nudge"]  # the default policy's pings also look at it
    assert [(r["outcome"], r["writes_sent"]) for r in nudges] == [("nudged", 1)]
    assert all(r["writes_sent"] == 0 for r in mine if r["runbook"] != "demo-nudge")
    ticket = desk.get_ticket(ticket_id)
    assert NUDGED in ticket.tags and len(ticket.comments) == comments + 1

    again = stack.cli("sweep", "--desk", "zendesk", "--at", later, "--json")
    mine = [r for r in map(json.loads, again.stdout.splitlines()) if r["ticket"] == ticket_id]
    assert [r["outcome"] for r in mine if r["runbook"] == "demo-nudge"] == ["already nudged"]
    assert len(desk.get_ticket(ticket_id).comments) == comments + 1


def test_replay_by_time_window_and_on_a_worker(stack: Stack) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    ticket_id = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Cannot log in", "Since this morning.")
    rec = created_event(stack, "jira", ticket_id)
    until = datetime.now(UTC) + timedelta(seconds=1)

    window = stack.cli("replay", "--since", start.isoformat(), "--until", until.isoformat(), "--dry-run")
    assert window.returncode == 0, window.stderr
    assert f"event {rec.event.id} (jira ticket_created ticket {ticket_id}" in window.stdout
    assert stack.log.get(rec.event.id).replays == ()  # type: ignore[union-attr]  # a dry run records nothing

    queued = stack.cli("replay", rec.event.id, "--queue")
    assert queued.returncode == 0, queued.stderr
    assert "queued for a worker" in queued.stdout

    def replayed() -> Any:
        got = stack.log.get(rec.event.id)
        return got if got and got.replays else None

    after = wait_for(replayed, timeout=30)
    assert after.decision == rec.decision  # the first decision is kept
    assert after.replays[0].source == "replay" and after.replays[0].writes_sent == 0, (
        after.replays[0].runbooks[0].writes
    )


def test_replay_errors_are_one_line(stack: Stack) -> None:
    unknown = stack.cli("replay", "zd-0000000000000000")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0 and "no such event" in unknown.stderr
    bad = stack.cli("replay", "--since", "yesterday")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "not an ISO-8601 date/time" in bad.stderr
    both = stack.cli("replay", "x", "--queue", "--dry-run")
    assert both.returncode == 2 and "Traceback" not in both.stderr


def test_a_replay_of_a_ticket_a_worker_holds_is_one_line_and_records_nothing(stack: Stack) -> None:
    ticket_id = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Cannot export", "Since Monday.")
    rec = created_event(stack, "jira", ticket_id)
    stack.settled("jira", ticket_id)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    with ticket_lock(client, ticket_lock_key(stack.worker.prefix, "jira", ticket_id)):
        busy = stack.cli("replay", rec.event.id)
    assert busy.returncode == 2, busy.stderr
    assert busy.stderr.strip().count("\n") == 0 and "Traceback" not in busy.stderr
    assert "handling this ticket right now" in busy.stderr
    assert stack.log.get(rec.event.id).replays == ()  # type: ignore[union-attr]
    again = stack.cli("replay", rec.event.id)  # the lock let go: the same command now replays
    assert again.returncode == 0, again.stderr
    assert len(stack.log.get(rec.event.id).replays) == 1  # type: ignore[union-attr]
