"""What a worker process needs, built once per process: settings, Redis, event log, policy, desks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import redis

from bot.config import Settings, get_settings
from bot.eventlog import EventLog
from bot.redis_conn import client_for


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    eventlog: EventLog
    prefix: str
    _desks: dict[str, object] = field(default_factory=dict)


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    settings = get_settings()
    client = client_for(settings.resolved_redis_url())
    prefix = settings.helpdesk_bot_key_prefix
    return Runtime(
        settings=settings,
        redis=client,
        eventlog=EventLog(client, prefix, settings.helpdesk_bot_event_ttl_days),
        prefix=prefix,
    )
