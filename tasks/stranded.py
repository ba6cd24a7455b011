"""Stranded events: taken by a worker that then died, so no message for them will ever run again.

An event is *held* from the moment a worker receives its message (the consumer records
`<prefix>held:<event id>` = its heartbeat id) until it is done. When that holder stops beating
(`bot.heartbeat`), the message died with it: kombu would give it back only after the broker's
visibility timeout (hours, because retries wait up to `MAX_COUNTDOWN` on a worker). The sweep
(`tasks.sweeps`, every `SWEEP_EVERY` seconds from beat) requeues such an event unless its ticket lock is
held by a live process (then it is running, or another event of the ticket is); a lock whose holder is
dead too is released first, so the requeued task does not wait out `LOCK_TTL`.

Requeueing twice is harmless: the intake task skips events already handled and every write checks the
ticket first; at worst a task runs, finds the event done, and returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import structlog
from celery.signals import task_received, worker_init, worker_process_init

from bot import heartbeat
from bot.locks import ticket_lock_key, token_owner
from bot.metrics import count
from tasks.runtime import Runtime, get_runtime

log = structlog.get_logger(__name__)

INTAKE_TASK = "helpdesk.process_event"
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
    marks = r.mget([held_key(prefix, i) for i in ids])
    held = {i: _text(m) for i, m in zip(ids, marks, strict=True) if m}
    beats = heartbeat.alive(r, prefix, held.values(), now.timestamp())
    records = list(runtime.eventlog.records([i for i, holder in held.items() if not beats[holder]]))
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
        found.append(Stranded(rec.event.id, held[rec.event.id], key, token))
    return found


def requeue_stranded(runtime: Runtime, stranded: Sequence[Stranded], enqueue: Callable[[str], Any]) -> None:
    release = runtime.redis.register_script(RELEASE_IF)
    for item in stranded:
        if item.dead_lock_token is not None:
            release(keys=[item.lock_key], args=[item.dead_lock_token])
        runtime.redis.delete(held_key(runtime.prefix, item.event_id))
        enqueue(item.event_id)
        count(runtime.redis, runtime.prefix, "stranded_requeues", ())
        log.warning("requeued stranded event", event_id=item.event_id, dead_worker=item.holder)


@worker_init.connect
def _beat_main(**_: Any) -> None:
    """Celery's main process beats: it is the one that holds received (and ETA-delayed) messages."""
    runtime = get_runtime()
    heartbeat.start(runtime.settings.resolved_redis_url(), runtime.prefix)


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
        runtime.redis.set(held_key(runtime.prefix, str(request.args[0])), ident, ex=HELD_TTL)
    except redis.RedisError as exc:  # the event stays unmarked: only the long stale sweep would requeue it
        log.warning("could not mark event as held", event_id=request.args[0], error=str(exc))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
