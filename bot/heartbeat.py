"""Process heartbeats in Redis, so a sweep can tell a dead worker from a busy one.

Each worker process (Celery's main process and every pool process) runs a daemon thread that writes
`time.time()` under its id (`<host>:<pid>`) into one sorted set, `<prefix>workers`, every
`BEAT_EVERY` seconds. A process whose last beat is older than `DEAD_AFTER` is taken for dead. With
each beat, Celery's main process also publishes the ids of the events it holds without running them
(waiting for a pool slot or a retry's countdown) in `<prefix>holding:<id>`: a live worker can still lose
a message (its broker connection dropped and it let go of what it had reserved), and that set tells. The
thread has its own Redis client, so it never shares a connection (or a connection-pool lock) with a
process that forks after it started.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable

import redis
import structlog

log = structlog.get_logger(__name__)

BEAT_EVERY = 5.0
DEAD_AFTER = 15.0
"""Three missed beats: long enough for a Redis hiccup, short enough to recover stranded events quickly."""
FORGET_AFTER = 86400.0
"""Beats older than this are removed from the set (the process is long gone)."""

_current: tuple[int, str] | None = None
"""(pid, id) of the heartbeat running in this process; the pid check drops it in a forked child."""


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def workers_key(prefix: str) -> str:
    return f"{prefix}workers"


def current_id() -> str | None:
    """This process's heartbeat id, if it publishes one (worker processes do; the CLI does not)."""
    if _current is not None and _current[0] == os.getpid():
        return _current[1]
    return None


def holding_key(prefix: str, ident: str) -> str:
    return f"{prefix}holding:{ident}"


def beat(client: redis.Redis, prefix: str, ident: str, now: float, holding: Iterable[str] | None = None) -> None:
    """One beat: `ident` is alive at `now`, and (when given) holds exactly the events in `holding`."""
    pipe = client.pipeline(transaction=True)
    pipe.zadd(workers_key(prefix), {ident: now})
    pipe.zremrangebyscore(workers_key(prefix), "-inf", now - FORGET_AFTER)
    if holding is not None:
        key = holding_key(prefix, ident)
        pipe.delete(key)
        ids = list(holding)
        if ids:
            pipe.sadd(key, *ids)
            pipe.expire(key, int(4 * DEAD_AFTER))
    pipe.execute()


def start(redis_url: str, prefix: str, holding: Callable[[], Iterable[str] | None] | None = None) -> str:
    """Start beating for this process (once per process); returns its id. `holding` lists held events
    (None when it could not tell this time: the last list published stands)."""
    global _current
    ident = current_id()
    if ident is not None:
        return ident
    ident = process_id()
    _current = (os.getpid(), ident)
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def run() -> None:
        while True:
            try:
                beat(client, prefix, ident, time.time(), None if holding is None else holding())
            except redis.RedisError as exc:
                log.warning("heartbeat not written", worker=ident, error=str(exc))
            time.sleep(BEAT_EVERY)

    threading.Thread(target=run, name="helpdesk-bot-heartbeat", daemon=True).start()
    return ident


def holds(client: redis.Redis, prefix: str, pairs: Iterable[tuple[str, str]]) -> list[bool]:
    """For each (worker id, event id): is the event in what that worker last published as held?"""
    pairs = list(pairs)
    if not pairs:
        return []
    pipe = client.pipeline(transaction=False)
    for ident, event_id in pairs:
        pipe.sismember(holding_key(prefix, ident), event_id)
    return [bool(v) for v in pipe.execute()]


def alive(client: redis.Redis, prefix: str, idents: Iterable[str], now: float) -> dict[str, bool]:
    """For each id: did that process beat within `DEAD_AFTER` seconds before `now`?"""
    ids = list(dict.fromkeys(idents))
    if not ids:
        return {}
    scores = client.zmscore(workers_key(prefix), ids)
    return {i: s is not None and now - float(s) < DEAD_AFTER for i, s in zip(ids, scores, strict=True)}
