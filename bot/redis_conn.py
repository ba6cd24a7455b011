"""One Redis client per process and URL: the event log, dedupe, locks and rate budgets all share it."""

from __future__ import annotations

from functools import lru_cache

import redis

from bot.config import get_settings


@lru_cache(maxsize=8)
def client_for(url: str) -> redis.Redis:
    # Short timeouts: a webhook must be answered (or spooled) quickly even when Redis hangs.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def get_redis() -> redis.Redis:
    return client_for(get_settings().resolved_redis_url())
