"""Per-ticket locks in Redis, so two events for one ticket are never acted on at the same time.

A lock has a token and an expiry: a crashed worker's lock frees itself, and a slow worker never
releases a lock that has since passed to someone else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LockBusy(Exception):
    pass


@contextmanager
def ticket_lock(client: redis.Redis, key: str, ttl_ms: int = 120_000) -> Iterator[None]:
    token = uuid.uuid4().hex
    if not client.set(key, token, nx=True, px=ttl_ms):
        raise LockBusy(key)
    try:
        yield
    finally:
        client.eval(RELEASE, 1, key, token)
