"""The event log: atomic record + enqueue, dedupe, states, queries, stale-event sweep."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import redis

from bot.domain.decisions import Decision, RunbookResult
from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
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
    triaged = RunbookResult("triage", "triaged", actions=({"action": "Assign"},))
    log.set_state(events[0].id, State.DONE, decision=Decision.of((triaged,), at="", source="event", empty=""))
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
    log.set_state(handled.id, State.DONE, decision=Decision(outcome="no runbook acts"))
    # Last activity is recorded as "now" on record; look from three hours ahead.
    assert stale_events(log, now + timedelta(hours=3)) == [old.id, fresh.id]
    assert stale_events(log, now) == []


def test_a_replay_is_appended_and_the_first_decision_kept(redis_prefix: str) -> None:
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)
    event = make_event("replayed")
    log.record(event, State.QUEUED)
    first = Decision.of(
        (RunbookResult("triage", "triaged", ({"action": "Assign", "agent_id": "7"},)),),
        at="t0",
        source="event",
        empty="",
    )
    log.set_state(event.id, State.DONE, decision=first)
    log.add_replay(event.id, Decision.of((RunbookResult("triage", "triaged"),), at="t1", source="replay", empty=""))
    log.add_replay(event.id, Decision.of((), at="t2", source="replay", empty="nothing"))
    rec = log.get(event.id)
    assert rec is not None and rec.decision == first
    assert [r.at for r in rec.replays] == ["t1", "t2"]


def test_records_of_the_previous_version_still_read(redis_prefix: str) -> None:
    """Decisions stored as plain dicts (triage only), including a replay that folded the first decision in."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    log = EventLog(client, redis_prefix)
    plain, replayed = make_event("v1-plain"), make_event("v1-replayed")
    for e in (plain, replayed):
        log.record(e, State.DONE)
    v1 = {"outcome": "triaged as feedback (rule feedback)", "rule": "feedback", "actions": [{"action": "Assign"}]}
    client.hset(f"{redis_prefix}event:{plain.id}", "decision", json.dumps(v1))
    folded = {"outcome": "not triaged: already triaged", "actions": [], "first_decision": v1}
    client.hset(f"{redis_prefix}event:{replayed.id}", "decision", json.dumps(folded))
    rec = log.get(plain.id)
    assert rec is not None and rec.decision is not None
    assert rec.decision.runbooks[0].runbook == "triage" and rec.actions == [{"action": "Assign"}]
    again = log.get(replayed.id)
    assert again is not None and again.decision is not None
    assert again.decision.outcome == v1["outcome"] and again.actions == [{"action": "Assign"}]
    assert [r.outcome for r in again.replays] == ["not triaged: already triaged"]
