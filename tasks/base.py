"""The one place that maps failures to retry schedules (STYLE.md "one base task owns retries").

- `RateLimited`: wait exactly what the desk asked (`Retry-After`), plus a little jitter so a fleet of
  workers does not stampede back at the same second.
- Transient (`Unavailable`, `Conflict`, lost Redis, a busy ticket lock, the soft time limit): jittered
  exponential backoff.
- Permanent (`NotFound`, `AuthError`, `InvalidRequest`): no retry; the event goes straight to the
  dead-letter state (`failed`) where `helpdesk-bot events --state failed` shows it and `replay` can rerun it.
Tasks on the sweep queue run their desk calls as sweep traffic, which only uses the sweeps' share of
the desk's API budget (`tasks/budget.py`); everything else is event-driven and goes first.
Retrying is safe only because every action checks the ticket before it writes (tasks/executor.py).
"""

from __future__ import annotations

import random
from contextlib import nullcontext
from typing import Any

import redis
import structlog
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from bot.domain.errors import Conflict, HelpdeskError, RateLimited, Unavailable
from bot.locks import LockBusy
from tasks.budget import sweep_calls
from tasks.celery_app import MAX_COUNTDOWN, SWEEP_QUEUE

log = structlog.get_logger(__name__)


# A busy ticket lock is transient too: another worker is acting on that ticket right now.
TRANSIENT: tuple[type[BaseException], ...] = (
    Unavailable,
    Conflict,
    LockBusy,
    SoftTimeLimitExceeded,  # a desk so slow that the task ran out of time: try again later
    redis.ConnectionError,
    redis.TimeoutError,
)


def backoff(retries: int, base: float = 2.0, cap: float = MAX_COUNTDOWN) -> float:
    """Full-jitter exponential backoff: spreads retries out instead of synchronising them."""
    return float(random.uniform(0, min(cap, base * (2**retries))) + 0.5)


def countdown_for(exc: BaseException, retries: int) -> float:
    if isinstance(exc, RateLimited):
        return float(min(MAX_COUNTDOWN, exc.retry_after + random.uniform(0, 1)))
    return backoff(retries)


class HelpdeskTask(Task):  # type: ignore[misc]
    """Base task: retries per the table above and records exhausted events as failed."""

    abstract = True
    max_retries = 8
    rate_limited_retries = 120
    """Waiting for the desk's API budget is not failing: a backlog larger than the budget (hundreds of new
    tickets at 100 calls a minute) makes tasks wait many times, each for at most about a minute, so these
    retries are bounded separately (about two hours at most) from those of real failures."""
    acks_late = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            with sweep_calls() if self._on_sweep_queue() else nullcontext():
                return self.run(*args, **kwargs)
        except RateLimited as exc:
            log.info("rate limited, retrying", task=self.name, retry_after=exc.retry_after)
            countdown = countdown_for(exc, self.request.retries)
            limit = max(self.max_retries, self.rate_limited_retries)
            raise self.retry(exc=exc, countdown=countdown, max_retries=limit) from exc
        except TRANSIENT as exc:
            log.info("transient failure, retrying", task=self.name, error=str(exc), retries=self.request.retries)
            raise self.retry(exc=exc, countdown=countdown_for(exc, self.request.retries)) from exc

    def _on_sweep_queue(self) -> bool:
        routing_key = (self.request.delivery_info or {}).get("routing_key")
        return SWEEP_QUEUE in (getattr(self, "queue", None), routing_key)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        permanent = isinstance(exc, HelpdeskError) and exc.permanent
        log.error("task failed", task=self.name, error=str(exc), permanent=permanent, args=args)
        self.dead_letter(args, kwargs, f"{type(exc).__name__}: {exc}")

    def dead_letter(self, args: Any, kwargs: Any, error: str) -> None:
        """Hook for subclasses: record the failure where operators look for it."""
