"""`helpdesk-bot health ROLE`: one health check per long-running role, for compose and Kubernetes probes.

Each role is healthy in its own way, so one image-wide check cannot fit them all (under web's check, beat
and Flower would be restarted forever): web answers `/readyz`; a worker answers a Celery ping addressed to
its own node; beat is healthy when some beat holds the scheduler lock and no sweep is overdue (a standby
waiting for the lock is healthy too); Flower answers its `/healthcheck`. Each check returns its verdict
and one line saying why.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import redis
from celery import Celery

HTTP_TIMEOUT = 3.0
PING_TIMEOUT = 5.0
BEAT_OVERDUE_GRACE = 60.0
"""Seconds a due sweep may wait before beat counts as stuck: well above one beat loop (5 s) under load."""


def check_http(url: str) -> tuple[bool, str]:
    """200 from `url` within a few seconds (web `/readyz`, Flower `/healthcheck`)."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 - a loopback URL we build
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except OSError as exc:
        return False, f"{url}: {exc}"


def check_worker(app: Celery, node: str | None = None) -> tuple[bool, str]:
    """This host's worker (`celery@<hostname>`, the name `helpdesk-bot worker` runs under) answers a ping."""
    node = node or f"celery@{socket.gethostname()}"
    try:
        replies = app.control.ping(destination=[node], timeout=PING_TIMEOUT)
    except Exception as exc:
        return False, f"{node}: broker unreachable ({exc})"
    if any(node in reply for reply in replies):
        return True, f"{node}: pong"
    return False, f"{node}: no answer within {PING_TIMEOUT:g}s"


def check_beat(app: Celery, now: float | None = None) -> tuple[bool, str]:
    """Some beat holds the scheduler lock, and the earliest sweep is not overdue by more than a grace period.

    A dead or stuck beat stops renewing its lock and stops moving the schedule on; either shows here, so the
    check is the same for the beat that holds the lock and for one waiting for it.
    """
    from redbeat.schedulers import ensure_conf

    conf = ensure_conf(app)
    client = redis.Redis.from_url(conf.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        locked = bool(client.exists(conf.lock_key))
        earliest = client.zrangebyscore(conf.schedule_key, 0, "+inf", start=0, num=1, withscores=True)
    except redis.RedisError as exc:
        return False, f"beat: Redis unreachable ({exc})"
    finally:
        client.close()
    if not locked:
        return False, "beat: no beat holds the scheduler lock"
    if not earliest:
        return False, "beat: no sweep is scheduled"
    overdue = (time.time() if now is None else now) - float(earliest[0][1])
    if overdue > BEAT_OVERDUE_GRACE:
        return False, f"beat: a sweep is {overdue:.0f}s overdue (more than {BEAT_OVERDUE_GRACE:g}s)"
    return True, "beat: lock held, sweeps on time"
