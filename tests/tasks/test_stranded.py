"""Stranded events: what the sweep requeues when the worker holding an event died, and what it leaves alone.

Liveness is decided from heartbeats as of the sweep's `now`, so these tests move `now` instead of waiting.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot import heartbeat
from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
from bot.locks import LockBusy, lock_token, ticket_lock, ticket_lock_key
from bot.webhooks import INTAKE_TASK
from tasks.celery_app import INTAKE_QUEUE
from tasks.celery_app import app as celery_app
from tasks.publish import intake_message
from tasks.runtime import Runtime
from tasks.stranded import LOST_AFTER, find_stranded, held_key, requeue_stranded
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.test_intake import make_settings

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DEAD_WORKER = "host-a:111"
LIVE_WORKER = "host-b:222"


@pytest.fixture
def runtime(redis_prefix: str, tmp_path: Path) -> Runtime:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    runtime = Runtime(make_settings(redis_prefix, tmp_path), client, EventLog(client, redis_prefix), redis_prefix)
    heartbeat.beat(client, redis_prefix, DEAD_WORKER, (NOW - timedelta(seconds=60)).timestamp())
    heartbeat.beat(client, redis_prefix, LIVE_WORKER, (NOW - timedelta(seconds=2)).timestamp())
    return runtime


def queued_event(
    runtime: Runtime,
    ticket: str,
    holder: str | None,
    marked: datetime = NOW - timedelta(minutes=1),
    received: datetime = NOW - timedelta(minutes=1),
) -> Event:
    delivery = uuid.uuid4().hex
    event = Event(
        id=event_id("zendesk", delivery),
        desk="zendesk",
        kind=EventKind.TICKET_CREATED,
        ticket_id=ticket,
        actor=Actor("301", Role.CUSTOMER),
        delivery_id=delivery,
        received_at=received,
    )
    assert runtime.eventlog.record(event, State.QUEUED)
    if holder:
        runtime.redis.set(held_key(runtime.prefix, event.id), f"{holder}|{marked.timestamp()}")
    return event


def lock(runtime: Runtime, ticket: str, owner: str | None) -> str:
    token = lock_token(owner)
    runtime.redis.set(ticket_lock_key(runtime.prefix, "zendesk", ticket), token, ex=60)
    return token


def stranded_ids(runtime: Runtime, now: datetime = NOW) -> list[str]:
    return [s.event_id for s in find_stranded(runtime, now)]


def test_event_held_by_a_dead_worker_is_stranded_and_requeued_once(runtime: Runtime) -> None:
    event = queued_event(runtime, "1", DEAD_WORKER)
    token = lock(runtime, "1", DEAD_WORKER)
    found = find_stranded(runtime, NOW)
    assert [s.event_id for s in found] == [event.id]
    assert found[0].dead_lock_token == token

    sent: list[str] = []
    requeue_stranded(runtime, found, sent.append, NOW)
    assert sent == [event.id]
    assert runtime.redis.get(ticket_lock_key(runtime.prefix, "zendesk", "1")) is None, "dead holder's lock released"
    # Back in the queue, not held by anyone: the next sweep does not requeue it again.
    assert stranded_ids(runtime) == []
    counted = runtime.redis.hgetall(f"{runtime.prefix}metrics:counter:stranded_requeues")
    assert counted == {b"": b"1"}


def hold(runtime: Runtime, worker: str, *events: Event) -> None:
    """`worker` beats now and lists `events` as the ones it holds."""
    heartbeat.beat(
        runtime.redis, runtime.prefix, worker, (NOW - timedelta(seconds=2)).timestamp(), [e.id for e in events]
    )


def test_event_a_live_worker_holds_is_left_alone(runtime: Runtime) -> None:
    hold(runtime, LIVE_WORKER, queued_event(runtime, "2", LIVE_WORKER))
    assert stranded_ids(runtime) == []


def test_the_same_worker_is_dead_once_its_beats_are_old_enough(runtime: Runtime) -> None:
    event = queued_event(runtime, "3", LIVE_WORKER)
    hold(runtime, LIVE_WORKER, event)
    later = NOW + timedelta(seconds=heartbeat.DEAD_AFTER)
    assert stranded_ids(runtime, later) == [event.id]


def test_event_a_live_worker_let_go_of_is_stranded(runtime: Runtime) -> None:
    """A worker that lost its broker connection drops what it had reserved, yet beats on."""
    kept = queued_event(runtime, "8", LIVE_WORKER)
    dropped = queued_event(runtime, "9", LIVE_WORKER)
    hold(runtime, LIVE_WORKER, kept)
    assert stranded_ids(runtime) == [dropped.id]


def test_event_just_received_is_held_before_the_next_beat_lists_it(runtime: Runtime) -> None:
    hold(runtime, LIVE_WORKER)
    queued_event(runtime, "10", LIVE_WORKER, marked=NOW - timedelta(seconds=1))
    assert stranded_ids(runtime) == []


def test_event_not_yet_taken_by_any_worker_is_waiting_not_stranded(runtime: Runtime) -> None:
    event = queued_event(runtime, "4", None)
    runtime.redis.lpush(f"{runtime.prefix}{INTAKE_QUEUE}", intake_message(celery_app, INTAKE_TASK, event.id)[1])
    assert stranded_ids(runtime, NOW + timedelta(minutes=5)) == []


def test_event_whose_message_vanished_before_any_worker_marked_it_is_requeued(runtime: Runtime) -> None:
    """Kombu pops a message before it records it as unacknowledged: a kill in between loses it."""
    event = queued_event(runtime, "11", None, received=NOW)
    other = queued_event(runtime, "12", None, received=NOW)
    runtime.redis.lpush(f"{runtime.prefix}{INTAKE_QUEUE}", intake_message(celery_app, INTAKE_TASK, other.id)[1])
    assert stranded_ids(runtime, NOW + timedelta(seconds=LOST_AFTER)) == [event.id]
    assert stranded_ids(runtime, NOW) == [], "not before it waited LOST_AFTER"


@pytest.mark.parametrize("owner", [LIVE_WORKER, None], ids=["live-lock-holder", "lock-holder-without-heartbeat"])
def test_ticket_locked_by_a_live_process_is_left_alone(runtime: Runtime, owner: str | None) -> None:
    """Its ticket is being worked on (maybe by an orphaned pool process finishing this very event)."""
    queued_event(runtime, "5", DEAD_WORKER)
    lock(runtime, "5", owner)
    assert stranded_ids(runtime) == []


def test_done_event_is_not_requeued(runtime: Runtime) -> None:
    event = queued_event(runtime, "6", DEAD_WORKER)
    runtime.eventlog.set_state(event.id, State.DONE)
    assert stranded_ids(runtime) == []


def test_ticket_lock_is_redis_py_lock_with_the_holders_heartbeat_id(runtime: Runtime) -> None:
    key = ticket_lock_key(runtime.prefix, "zendesk", "7")
    with ticket_lock(runtime.redis, key, ttl=30) as held:
        assert isinstance(held, redis.lock.Lock)
        assert 0 < runtime.redis.pttl(key) <= 30_000
        with pytest.raises(LockBusy), ticket_lock(runtime.redis, key):
            pass
        held.extend(30)
        assert runtime.redis.pttl(key) > 30_000
    assert runtime.redis.get(key) is None


def test_task_time_limits_are_below_the_ticket_lock_ttl() -> None:
    """A task that outlived its ticket lock would let a second worker act on the same ticket."""
    from bot.locks import LOCK_TTL
    from tasks.celery_app import make_app

    conf = make_app(TEST_REDIS_URL, "hbtest:limits:").conf
    assert conf.task_soft_time_limit < conf.task_time_limit < LOCK_TTL


def test_lock_whose_release_met_a_redis_outage_is_released_once_redis_answers(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise the ticket (and the event the sweep would requeue) stays locked for the rest of the TTL."""
    real = redis.lock.Lock.do_release
    calls: list[int] = []

    def flaky(self: redis.lock.Lock, token: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise redis.ConnectionError("Redis is restarting")
        real(self, token)

    monkeypatch.setattr(redis.lock.Lock, "do_release", flaky)
    monkeypatch.setattr("bot.locks.RELEASE_RETRY_EVERY", 0.01)
    key = ticket_lock_key(runtime.prefix, "zendesk", "13")
    with ticket_lock(runtime.redis, key):
        pass
    wait_for(lambda: not runtime.redis.exists(key), timeout=5)
    assert len(calls) == 2
