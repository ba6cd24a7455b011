"""The event log: atomic record + enqueue, dedupe, states, queries, stale-event sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from bot.eventlog import EventLog, State
from bot.events import Actor, Event, EventKind, event_id
from connectors.base import Role
from tasks.sweeps import stale_events
from tests.conftest import TEST_REDIS_URL


def make_event(delivery: str, ticket: str = "42", desk: str = "zendesk", at: datetime | None = None) -> Event:
    return Event(
        id=event_id(desk, delivery),
        desk=desk,
        kind=EventKind.TICKET_CREATED,
        ticket_id=ticket,
        actor=Actor("7", Role.CUSTOMER),
        delivery_id=delivery,
        received_at=at or datetime.now(UTC),
        payload={"subject": "Ünïcode ✓"},
    )


def test_record_is_atomic_with_enqueue_and_dedupes(redis_client: redis.Redis, redis_prefix: str) -> None:
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)
    event = make_event("d-1")
    queue = f"{redis_prefix}q"
    assert log.record(event, State.QUEUED, (queue, b"message-1")) is True
    assert log.record(event, State.QUEUED, (queue, b"message-2")) is False
    assert redis_client.lrange(queue, 0, -1) == ["message-1"]
    rec = log.get(event.id)
    assert rec is not None and rec.state is State.QUEUED
    assert rec.event == event


def test_states_and_queries(redis_prefix: str) -> None:
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    events = [make_event(f"d-{i}", ticket=str(i % 2), at=base + timedelta(minutes=i)) for i in range(5)]
    for e in events:
        log.record(e, State.QUEUED)
    log.set_state(events[0].id, State.DONE, decision={"outcome": "triaged", "actions": [{"action": "Assign"}]})
    log.set_state(events[1].id, State.FAILED, error="NotFound: ticket 1")
    assert [r.event.id for r in log.query(state=State.FAILED)] == [events[1].id]
    assert {r.event.id for r in log.query(ticket="0", desk="zendesk")} == {events[0].id, events[2].id, events[4].id}
    window = log.query(since=base + timedelta(minutes=1), until=base + timedelta(minutes=3))
    assert [r.event.id for r in window] == [events[3].id, events[2].id, events[1].id]
    done = log.get(events[0].id)
    assert done is not None and done.actions == [{"action": "Assign"}]


def test_stale_queued_events_are_found_only_after_the_retry_window(redis_prefix: str) -> None:
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)
    now = datetime.now(UTC)
    old = make_event("old", at=now - timedelta(hours=3))
    fresh = make_event("fresh", at=now)
    handled = make_event("handled", at=now - timedelta(hours=3))
    for e in (old, fresh, handled):
        log.record(e, State.QUEUED)
    log.set_state(handled.id, State.DONE, decision={})
    # Last activity is recorded as "now" on record; look from three hours ahead.
    assert stale_events(log, now + timedelta(hours=3)) == [old.id, fresh.id]
    assert stale_events(log, now) == []
