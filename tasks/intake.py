"""The intake task: load a recorded event, decide what to do, do it, record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
import structlog
from celery.signals import task_postrun

from bot.eventlog import State
from bot.events import Event, EventKind
from bot.locks import ticket_lock, ticket_lock_key
from bot.metrics import flush, observe_queue_latency, tally
from connectors.base import RateLimited
from tasks.base import TRANSIENT, HelpdeskTask
from tasks.celery_app import app
from tasks.runtime import Runtime, get_runtime

log = structlog.get_logger(__name__)

RETRIED: tuple[type[BaseException], ...] = (RateLimited, *TRANSIENT)
"""What the base task retries rather than fails (see tasks.base)."""

Handler = Callable[[Event, Runtime, bool], dict[str, Any]]
"""(event, runtime, dry_run) -> decision record {"outcome": str, "actions": [...]}."""


def _no_rule(event: Event, runtime: Runtime, dry_run: bool) -> dict[str, Any]:
    """Events the bot records but has no runbook for (yet): the decision says so explicitly."""
    return {"actions": [], "outcome": f"no rule acts on {event.kind.value} events"}


HANDLERS: dict[EventKind, Handler] = {}


def handler_for(kind: EventKind) -> Handler:
    return HANDLERS.get(kind, _no_rule)


class IntakeTask(HelpdeskTask):
    abstract = True

    def dead_letter(self, args: Any, kwargs: Any, error: str) -> None:
        event_id = (args or [kwargs.get("event_id")])[0]
        if event_id:
            get_runtime().eventlog.set_state(str(event_id), State.FAILED, error=error)


@task_postrun.connect
def _flush_metrics(**_: Any) -> None:
    """Write this task's counters (outcome, desk calls) to Redis in one round trip."""
    runtime = get_runtime()
    try:
        flush(runtime.redis, runtime.prefix)
    except redis.RedisError as exc:
        log.warning("metrics not written; kept for the next task", error=str(exc))


@app.task(name="helpdesk.process_event", base=IntakeTask, bind=True)
def process_event(self: IntakeTask, event_id: str) -> str:
    runtime = get_runtime()
    record = runtime.eventlog.get(event_id)
    if record is None:
        log.warning("event expired or unknown", event_id=event_id)
        return "unknown"
    if record.state in (State.DONE, State.IGNORED):
        return record.state.value  # a redelivered message: already handled, act on nothing twice
    event = record.event
    if self.request.retries == 0:
        latency = (datetime.now(UTC) - event.received_at).total_seconds()
        observe_queue_latency(runtime.redis, runtime.prefix, event.desk, latency)
    runtime.eventlog.count_attempt(event_id)
    structlog.contextvars.bind_contextvars(event_id=event_id, desk=event.desk, ticket=event.ticket_id)
    try:
        handler = handler_for(event.kind)
        try:
            with ticket_lock(runtime.redis, ticket_lock_key(runtime.prefix, event.desk, event.ticket_id)):
                decision = handler(event, runtime, False)
        except RETRIED:
            tally("task_outcomes", (handler.__name__, "retried"))
            raise
        except Exception:
            tally("task_outcomes", (handler.__name__, "failed"))
            raise
        tally("task_outcomes", (handler.__name__, "done"))
        runtime.eventlog.set_state(event_id, State.DONE, decision=decision)
        log.info("event processed", outcome=decision.get("outcome"), actions=len(decision.get("actions", [])))
    finally:
        structlog.contextvars.clear_contextvars()
    return State.DONE.value
