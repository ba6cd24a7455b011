"""`/metrics` shows what workers recorded in Redis (task outcomes by runbook, stranded-event requeues) and
the queue as it is now (messages waiting, events not yet handled and the oldest one's age)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot.app import create_app
from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
from bot.metrics import count, flush, tally
from tasks.celery_app import INTAKE_QUEUE
from tests.conftest import TEST_REDIS_URL
from tests.test_intake import make_settings


def scrape(prefix: str, home: Path) -> str:
    with create_app(make_settings(prefix, home)).test_client() as client:
        resp = client.get("/metrics")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_worker_counters_and_queue_figures_are_exported(
    redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.metrics._pending", Counter())  # nothing tallied by earlier tests in this process
    r = redis.Redis.from_url(TEST_REDIS_URL)
    tally("task_outcomes", ("handle_ticket_created", "done"), 3)
    flush(r, redis_prefix)
    count(r, redis_prefix, "stranded_requeues", ())
    r.lpush(f"{redis_prefix}{INTAKE_QUEUE}", b"m1", b"m2")
    delivery = uuid.uuid4().hex
    old = Event(
        id=event_id("zendesk", delivery),
        desk="zendesk",
        kind=EventKind.TICKET_CREATED,
        ticket_id="1",
        actor=Actor("301", Role.CUSTOMER),
        delivery_id=delivery,
        received_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    EventLog(r, redis_prefix).record(old, State.QUEUED)

    text = scrape(redis_prefix, tmp_path)
    assert 'helpdesk_bot_task_outcomes_total{outcome="done",runbook="handle_ticket_created"} 3.0' in text
    assert "helpdesk_bot_stranded_requeues_total 1.0" in text
    assert f'helpdesk_bot_queue_depth{{queue="{INTAKE_QUEUE}"}} 2.0' in text
    assert "helpdesk_bot_events_queued 1.0" in text
    age = next(line for line in text.splitlines() if line.startswith("helpdesk_bot_oldest_queued_event_age_seconds"))
    assert 590 < float(age.split()[-1]) < 700


def test_nothing_recorded_yet_reads_as_zero(redis_prefix: str, tmp_path: Path) -> None:
    text = scrape(redis_prefix, tmp_path)
    assert "helpdesk_bot_stranded_requeues_total 0.0" in text
    assert "helpdesk_bot_events_queued 0.0" in text
    assert "helpdesk_bot_oldest_queued_event_age_seconds 0.0" in text
