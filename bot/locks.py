"""Per-ticket locks: redis-py's own `redis.lock.Lock`, so two events for one ticket are never acted on at once.

The lock expires after `LOCK_TTL` so a crashed holder frees it by itself; a task's hard time limit
(`tasks.celery_app.TASK_TIME_LIMIT`) is kept below it, because a task that outlived its lock would let a
second worker act on the same ticket. The lock is extendable (`Lock.extend`) for work that knows it needs
longer. Its token names the holding process when that process publishes a heartbeat (`bot.heartbeat`),
so the stale-event sweep can tell a lock held by a dead worker from one held by a slow one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import structlog
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from bot import heartbeat

log = structlog.get_logger(__name__)

RELEASE_RETRY_EVERY = 1.0
LOCK_TTL = 150.0
"""Seconds a ticket lock lives unless released or extended: above every task's hard time limit."""


def ticket_lock_key(prefix: str, desk: str, ticket_id: str) -> str:
    return f"{prefix}lock:{desk}:{ticket_id}"


class LockBusy(Exception):
    """Another worker holds the ticket's lock right now: a transient condition, retried later."""


def lock_token(owner: str | None) -> str:
    """`<owner>|<random>` when the holder publishes heartbeats, else a bare random token (owner unknown)."""
    return f"{owner}|{uuid.uuid4().hex}" if owner else uuid.uuid4().hex


def token_owner(token: str) -> str | None:
    """The heartbeat id of the process that took a lock with `token`, or None when it did not say."""
    owner, sep, _ = token.rpartition("|")
    return owner if sep else None


@contextmanager
def ticket_lock(client: redis.Redis, key: str, ttl: float = LOCK_TTL) -> Iterator[Lock]:
    """Hold `key` for the block, or raise `LockBusy` at once (never wait: the task is retried instead)."""
    lock = client.lock(key, timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire(token=lock_token(heartbeat.current_id())):
        raise LockBusy(key)
    try:
        yield lock
    finally:
        token = lock.local.token
        try:
            lock.release()
        except LockNotOwnedError:
            # The lock expired (or was released by the sweep because its holder looked dead) while this
            # block ran: the work is done, but say so, since another worker may have acted meanwhile.
            log.warning("ticket lock lost before the work finished", lock=key, ttl=ttl)
        except redis.RedisError as exc:
            log.warning("ticket lock not released, Redis unreachable: retrying meanwhile", lock=key, error=str(exc))
            _release_later(lock, token, ttl)


def _release_later(lock: Lock, token: str, ttl: float) -> None:
    """Keep trying to release `lock` while it could still be ours, so a Redis outage does not leave the
    ticket locked (and its event waiting) for the rest of the TTL once Redis is back."""

    def run() -> None:
        deadline = time.monotonic() + ttl
        while time.monotonic() < deadline:
            try:
                lock.do_release(token)
                return
            except LockNotOwnedError:
                return
            except redis.RedisError:
                time.sleep(RELEASE_RETRY_EVERY)

    threading.Thread(target=run, name="helpdesk-bot-lock-release", daemon=True).start()
