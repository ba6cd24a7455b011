"""A worker SIGKILLed while it holds an event: the sweep hands the event to another worker, which triages
the ticket exactly once. The sweep is run as of a `now` past the heartbeat timeout instead of waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot import heartbeat
from bot.domain.tickets import Visibility
from bot.eventlog import State
from bot.locks import ticket_lock_key
from tasks.stranded import held_key
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants at once, as when a container or machine dies."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            todo += [int(c) for c in children.read_text().split()]
    for p in pids:
        os.kill(p, signal.SIGKILL)


def sweep_at(stack: Stack, at: datetime) -> list[str]:
    """The beat sweep run once, in a process configured like the workers, deciding as of `at`."""
    code = (
        "import datetime, json, sys\n"
        "from tasks.runtime import get_runtime\n"
        "from tasks.sweeps import requeue_stale\n"
        "now = datetime.datetime.fromisoformat(sys.argv[1])\n"
        "print(json.dumps(requeue_stale(get_runtime(), now=now)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, at.isoformat()],
        env={**stack.worker.env, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_killed_worker_event_is_processed_by_another_worker(tmp_path: Path) -> None:
    with running_stack(tmp_path, workers=1, concurrency=1) as stack:
        r = redis.Redis.from_url(TEST_REDIS_URL)
        prefix = stack.worker.prefix
        zendesk = stack.sandboxes["zendesk"].control
        zendesk.latency = 2.0  # every desk call is slow: the worker is caught in the middle of triage
        ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Cannot log in", "Since today.")
        lock_key = ticket_lock_key(prefix, "zendesk", ticket_id)
        wait_for(lambda: r.exists(lock_key), timeout=30)
        [event_id] = stack.log.ticket_event_ids("zendesk", ticket_id)
        assert r.get(held_key(prefix, event_id)), "the consumer marked the event as held"

        kill_tree(stack.worker.procs[0].pid)
        stack.worker.procs[0].wait()
        killed_at = datetime.now(UTC)
        zendesk.latency = 0.0

        # Moments after the kill the worker's last beat is recent: nothing is requeued yet.
        assert sweep_at(stack, killed_at) == []
        # Once its heartbeat is overdue the event is requeued and the dead worker's ticket lock released.
        assert sweep_at(stack, killed_at + timedelta(seconds=heartbeat.DEAD_AFTER + 1)) == [event_id]
        assert not r.exists(lock_key)

        started = time.monotonic()
        stack.worker.start("worker", "--concurrency", "1", extra_env=stack.env)
        record = wait_for(
            lambda: (rec := stack.log.get(event_id)) and rec.state is not State.QUEUED and rec, timeout=60
        )
        assert record.state is State.DONE, record.error + stack.worker.logs()[-4000:]
        assert time.monotonic() - started < 60
        ticket = stack.desk("zendesk").get_ticket(ticket_id)
        assert ticket.assignee_id is not None
        public = [
            c for c in ticket.comments if c.author.email == "bot@example.com" and c.visibility is Visibility.PUBLIC
        ]
        assert len(public) == 1, "the customer got exactly one first response"
        # What the worker counted for /metrics: the outcome by runbook, and the requeue.
        outcomes = r.hgetall(f"{prefix}metrics:counter:task_outcomes")
        runbooks, outcome = next(iter(outcomes)).split(b"\x1f")
        assert b"triage" in runbooks.split(b",") and outcome == b"done" and list(outcomes.values()) == [b"1"], outcomes
        assert r.hget(f"{prefix}metrics:counter:stranded_requeues", "") == b"1"
