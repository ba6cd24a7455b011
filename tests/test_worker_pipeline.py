"""A real Celery worker runs what intake enqueues (the hand-built message is a valid Celery message)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
from bot.webhooks import INTAKE_TASK
from tasks.celery_app import make_app
from tasks.publish import intake_message
from tests.conftest import TEST_REDIS_URL, BotProcesses, cleanup_prefix, wait_for


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcesses]:
    prefix = f"hbtest:{uuid.uuid4().hex[:10]}:"
    procs = BotProcesses(prefix, Path(tmp_path_factory.mktemp("worker")))
    procs.start("worker", "--concurrency", "1")
    yield procs
    procs.stop()
    cleanup_prefix(prefix)


def test_worker_processes_an_intake_message(worker: BotProcesses) -> None:
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), worker.prefix)
    delivery = uuid.uuid4().hex
    event = Event(
        id=event_id("jira", delivery),
        desk="jira",
        kind=EventKind.TICKET_DELETED,  # no runbook acts on it: no desk needed
        ticket_id="HELP-1",
        actor=Actor("abc", Role.AGENT),
        delivery_id=delivery,
        received_at=datetime.now(UTC),
    )
    celery = make_app(TEST_REDIS_URL, worker.prefix)
    assert log.record(event, State.QUEUED, intake_message(celery, INTAKE_TASK, event.id))

    def done() -> object:
        rec = log.get(event.id)
        return rec if rec and rec.state is State.DONE else None

    try:
        rec = wait_for(done, timeout=30)
    except AssertionError:
        pytest.fail("worker did not process the event; logs:\n" + worker.logs())
    assert rec.decision is not None
    assert rec.decision.outcome == "no runbook acts on ticket_deleted events"
    assert rec.attempts == 1
    latency = redis.Redis.from_url(TEST_REDIS_URL).hget(f"{worker.prefix}metrics:queue_latency:jira", "count")
    assert latency == b"1"
    processed = [
        json.loads(line) for line in worker.logs().splitlines() if line.startswith("{") and "event processed" in line
    ]
    assert processed and processed[0]["event_id"] == event.id and processed[0]["level"] == "info"
    # Celery's and kombu's own lines (and Python warnings) are JSON like the bot's: nothing else is printed.
    logged = [json.loads(line) for line in worker.logs().splitlines() if line.strip()]
    assert any(str(entry["logger"]).startswith("celery.") for entry in logged)
