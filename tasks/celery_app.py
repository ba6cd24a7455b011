"""The Celery application and the settings that make delivery at-least-once without loops.

- `acks_late` + `task_retry_on_worker_lost`: a task whose worker dies is run again (bounded by the
  task's `max_retries`), never silently dropped and never retried forever.
- `worker_prefetch_multiplier=1`: a worker holds one message at a time, so a killed worker strands at
  most one task until the visibility timeout.
- Visibility timeout (2 h) above the longest retry countdown we ever schedule (`MAX_COUNTDOWN`), so a
  delayed retry is not redelivered while it waits. A worker that dies does not strand its events for
  that long: workers beat in Redis and the stranded-event sweep (beat, every `SWEEP_EVERY` seconds)
  requeues what a dead worker held (`tasks.stranded`).
- Hard time limit (`TASK_TIME_LIMIT`) below the ticket lock's TTL (`bot.locks.LOCK_TTL`): a task never
  outlives its lock, so a second worker never acts on a ticket the first is still changing. The soft
  limit before it raises inside the task, which is then retried like any transient failure.
- One beat by construction: the schedule lives in Redis and beat holds a lock there (celery-redbeat), so a
  second `helpdesk-bot beat` (a rollout's new pod, `--scale beat=2`, a standby) waits for the lock and sends
  nothing; when the holder stops it releases the lock, and when it dies the lock expires.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu.entity import Exchange, Queue

from bot.config import get_settings

INTAKE_QUEUE = "helpdesk-intake"
SWEEP_QUEUE = "helpdesk-sweeps"
VISIBILITY_TIMEOUT = 7200
MAX_COUNTDOWN = 900
TASK_TIME_LIMIT = 110.0
TASK_SOFT_TIME_LIMIT = 100.0
SWEEP_EVERY = 30.0
SOFT_SHUTDOWN_TIMEOUT = 20.0
"""Seconds a stopping worker lets running tasks finish before requeueing them (the deployments' stop grace
periods are this plus a margin)."""
BEAT_MAX_LOOP_INTERVAL = 5.0
"""Longest beat sleeps between looks at the schedule; also how often a waiting beat retries the lock."""
BEAT_LOCK_TIMEOUT = 30
"""Seconds the scheduler lock outlives its last renewal: how long a crashed beat blocks the next one."""


def make_app(broker_url: str | None = None, key_prefix: str | None = None) -> Celery:
    """The Celery app; every broker key carries the bot's key prefix, like the rest of its Redis state."""
    settings = get_settings()
    url = redis_url = broker_url or settings.resolved_redis_url()
    prefix = key_prefix if key_prefix is not None else settings.helpdesk_bot_key_prefix
    if url.startswith("unix://"):  # redis-py's spelling of a socket; kombu calls the same thing redis+socket
        url = "redis+socket://" + url.removeprefix("unix://")
    app = Celery("helpdesk_bot", broker=url, include=["tasks.intake", "tasks.replay", "tasks.sweeps", "tasks.stranded"])
    transport = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # Bounded publish retries: a producer never hangs on a dead broker.
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 1,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "global_keyprefix": prefix,
    }
    app.conf.update(
        task_acks_late=True,
        task_retry_on_worker_lost=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=transport,
        visibility_timeout=VISIBILITY_TIMEOUT,
        broker_connection_retry_on_startup=True,
        worker_soft_shutdown_timeout=SOFT_SHUTDOWN_TIMEOUT,
        worker_send_task_events=True,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        task_default_queue=INTAKE_QUEUE,
        task_queues=[
            Queue(INTAKE_QUEUE, Exchange(INTAKE_QUEUE, type="direct"), routing_key=INTAKE_QUEUE),
            Queue(SWEEP_QUEUE, Exchange(SWEEP_QUEUE, type="direct"), routing_key=SWEEP_QUEUE),
        ],
        timezone="UTC",
        beat_scheduler="redbeat.RedBeatScheduler",
        beat_max_loop_interval=BEAT_MAX_LOOP_INTERVAL,
        redbeat_redis_url=redis_url.replace("redis+socket://", "unix://"),
        redbeat_key_prefix=f"{prefix}redbeat:",
        redbeat_lock_timeout=BEAT_LOCK_TIMEOUT,
        # Client options of redbeat's own connection; retry_period: ride out a Redis restart of up to a minute.
        redbeat_redis_options={"socket_timeout": 5, "socket_connect_timeout": 5, "retry_period": 60},
        beat_schedule={
            "requeue-stale-events": {
                "task": "helpdesk.sweep_stale",
                "schedule": SWEEP_EVERY,
                # A sweep nobody ran in time is skipped, not piled up behind a stopped worker.
                "options": {"queue": SWEEP_QUEUE, "expires": SWEEP_EVERY},
            },
            **{
                f"sweep-{desk}": {
                    "task": "helpdesk.sweep_desk",
                    "schedule": float(settings.helpdesk_bot_sweep_seconds),
                    "args": (desk,),
                    "options": {"queue": SWEEP_QUEUE},
                }
                for desk in settings.enabled_desks()
            },
        },
    )
    return app


@setup_logging.connect
def _json_logs(loglevel: str | int | None = None, **_: Any) -> None:
    """Celery, kombu and task logs in the bot's JSON lines (a receiver here stops Celery configuring its own)."""
    from bot.logs import configure_logging

    if isinstance(loglevel, int):
        loglevel = logging.getLevelName(loglevel)
    configure_logging(loglevel or get_settings().helpdesk_bot_log_level)


app = make_app()
