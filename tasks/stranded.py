"""Stranded events: taken by a worker that then died, so no message for them will ever run again.

An event is *held* from the moment a worker receives its message (the consumer records
`<prefix>held:<event id>` = its heartbeat id and the time) until it is done. When that holder stops
beating (`bot.heartbeat`), or beats but no longer lists the event among those it holds (it lost its
broker connection and let go of its reserved messages), the message is gone: kombu would give it back
only after the broker's visibility timeout (hours, because retries wait up to `MAX_COUNTDOWN` on a
worker). The sweep
(`tasks.sweeps`, every `SWEEP_EVERY` seconds from beat) requeues such an event unless its ticket lock is
held by a live process (then it is running, or another event of the ticket is); a lock whose holder is
dead too is released first, so the requeued task does not wait out `LOCK_TTL`.

Requeueing twice is harmless: the intake task skips events already handled and every write checks the
ticket first; at worst a task runs, finds the event done, and returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import structlog
from celery.signals import task_received, worker_init, worker_process_init

from bot import heartbeat
from bot.locks import ticket_lock_key, token_owner
from bot.metrics import count
from tasks.celery_app import INTAKE_QUEUE
from tasks.runtime import Runtime, get_runtime

log = structlog.get_logger(__name__)

INTAKE_TASK = "helpdesk.process_event"
HOLD_GRACE = 2 * heartbeat.BEAT_EVERY
"""A mark this fresh counts as held even before the holder's next beat has listed the event."""
LOST_AFTER = 60.0
"""Seconds an event may wait unclaimed before the broker queue is searched for its message."""
QUEUE_SCAN_LIMIT = 20_000
"""Above this many waiting messages the queue is not searched (it is a backlog, not a loss)."""
HELD_TTL = 7200
"""Seconds a holder mark lives: as long as the broker's visibility timeout, after which kombu redelivers."""

RELEASE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def held_key(prefix: str, event_id: str) -> str:
    return f"{prefix}held:{event_id}"


@dataclass(frozen=True)
class Stranded:
    event_id: str
    holder: str
    lock_key: str
    dead_lock_token: str | None
    """The token of a lock left behind by a dead process, released before requeueing."""


def find_stranded(runtime: Runtime, now: datetime) -> list[Stranded]:
    """Queued events whose holder is dead and whose ticket lock no live process holds, as of `now`."""
    r, prefix = runtime.redis, runtime.prefix
    ids = runtime.eventlog.queued_before(now)
    if not ids:
        return []
    at = now.timestamp()
    marks = r.mget([held_key(prefix, i) for i in ids])
    held = {i: _mark(m) for i, m in zip(ids, marks, strict=True) if m}
    beats = heartbeat.alive(r, prefix, {holder for holder, _ in held.values()}, at)
    ask = [(holder, i) for i, (holder, marked) in held.items() if beats[holder] and at - marked >= HOLD_GRACE]
    listed = {i for (_, i), yes in zip(ask, heartbeat.holds(r, prefix, ask), strict=True) if yes}
    loose = [
        i
        for i, (holder, marked) in held.items()
        if not beats[holder] or (i not in listed and at - marked >= HOLD_GRACE)
    ]
    records = list(runtime.eventlog.records(loose + _lost_messages(runtime, at, held)))
    if not records:
        return []
    lock_keys = [ticket_lock_key(prefix, rec.event.desk, rec.event.ticket_id) for rec in records]
    tokens = [_text(t) if t else None for t in r.mget(lock_keys)]
    owners = heartbeat.alive(r, prefix, {o for t in tokens if t and (o := token_owner(t))}, now.timestamp())
    found = []
    for rec, key, token in zip(records, lock_keys, tokens, strict=True):
        owner = token_owner(token) if token else None
        if token is not None and (owner is None or owners[owner]):
            continue  # the ticket is being worked on by a live process (or one that does not beat)
        found.append(Stranded(rec.event.id, held.get(rec.event.id, ("",))[0], key, token))
    return found


def _lost_messages(runtime: Runtime, at: float, held: dict[str, tuple[str, float]]) -> list[str]:
    """Queued events no worker ever marked as received whose message is not in the broker queue either.

    Kombu's Redis transport pops a message and only then records it as unacknowledged: a worker killed (or
    a Redis connection cut) in between loses the message for good. Looking for an event's id in the raw
    queue is a substring test per message, done only when some event has waited `LOST_AFTER` unclaimed.
    """
    waited = runtime.eventlog.queued_before(datetime.fromtimestamp(at - LOST_AFTER, UTC))
    unclaimed = [i for i in waited if i not in held]
    if not unclaimed:
        return []
    queue = f"{runtime.prefix}{INTAKE_QUEUE}"
    if runtime.redis.llen(queue) > QUEUE_SCAN_LIMIT:
        log.warning("intake queue too long to look for lost messages; the stale sweep will", queue=queue)
        return []
    waiting = runtime.redis.lrange(queue, 0, -1)
    return [i for i in unclaimed if not any(i.encode() in message for message in waiting)]


def requeue_stranded(
    runtime: Runtime, stranded: Sequence[Stranded], enqueue: Callable[[str], Any], now: datetime
) -> None:
    """Release dead holders' locks, then enqueue each event again; its wait is counted from `now`."""
    release = runtime.redis.register_script(RELEASE_IF)
    for item in stranded:
        if item.dead_lock_token is not None:
            release(keys=[item.lock_key], args=[item.dead_lock_token])
        pipe = runtime.redis.pipeline()
        pipe.delete(held_key(runtime.prefix, item.event_id))
        pipe.zadd(runtime.eventlog.queued_key, {item.event_id: now.timestamp()}, xx=True)
        pipe.execute()
        enqueue(item.event_id)
        count(runtime.redis, runtime.prefix, "stranded_requeues", ())
        log.warning("requeued stranded event", event_id=item.event_id, lost_by=item.holder or "the broker")


@worker_init.connect
def _beat_main(**_: Any) -> None:
    """Celery's main process beats: it is the one that holds received (and ETA-delayed) messages."""
    runtime = get_runtime()
    heartbeat.start(runtime.settings.resolved_redis_url(), runtime.prefix, holding=_events_held_here)


def _events_held_here() -> list[str] | None:
    """Events of the intake task this worker holds without running them: waiting for a pool slot or for a
    retry's countdown. A running task is vouched for by its ticket lock instead, which its pool process
    holds: Celery's own list of active requests can keep an entry whose ack failed on a lost connection."""
    from celery.worker import state

    for _ in range(3):  # the consumer thread changes these sets meanwhile; a clash is simply tried again
        try:
            active = set(state.active_requests)
            waiting = [*state.scheduled_requests, *(r for r in state.reserved_requests if r not in active)]
        except RuntimeError:
            continue
        return [str(r.args[0]) for r in waiting if r.task_name == INTAKE_TASK and r.args]
    return None


@worker_process_init.connect
def _beat_pool_process(**_: Any) -> None:
    """Each pool process beats too: it is the one that holds a ticket lock while a task runs."""
    runtime = get_runtime()
    heartbeat.start(runtime.settings.resolved_redis_url(), runtime.prefix)


@task_received.connect
def _mark_held(request: Any = None, **_: Any) -> None:
    """Record which worker now holds the event's message (runs in the consumer, for every message)."""
    ident = heartbeat.current_id()
    if request is None or ident is None or request.task_name != INTAKE_TASK or not request.args:
        return
    runtime = get_runtime()
    try:
        runtime.redis.set(held_key(runtime.prefix, str(request.args[0])), f"{ident}|{time.time()}", ex=HELD_TTL)
    except redis.RedisError as exc:  # the event stays unmarked: only the long stale sweep would requeue it
        log.warning("could not mark event as held", event_id=request.args[0], error=str(exc))


def _mark(value: bytes | str) -> tuple[str, float]:
    """(holder id, when it received the message) from a held mark."""
    text = value.decode() if isinstance(value, bytes) else value
    holder, _, marked = text.rpartition("|")
    return holder, float(marked)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
