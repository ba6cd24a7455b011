"""The intake task: load a recorded event, run the runbooks its kind starts, record the outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
import structlog
from celery.signals import task_postrun

from bot.domain.decisions import Decision
from bot.domain.errors import RateLimited
from bot.domain.events import Event
from bot.eventlog import State
from bot.locks import ticket_lock, ticket_lock_key
from bot.metrics import flush, observe_queue_latency, tally
from tasks import registry
from tasks.base import TRANSIENT, HelpdeskTask
from tasks.celery_app import app
from tasks.pipeline import Run, run_runbooks
from tasks.runtime import Runtime, get_runtime

log = structlog.get_logger(__name__)

RETRIED: tuple[type[BaseException], ...] = (RateLimited, *TRANSIENT)
"""What the base task retries rather than fails (see tasks.base)."""


def handle_event(runtime: Runtime, event: Event, run: Run) -> Decision:
    """Every runbook the event's kind starts, in the registry's order (the caller holds the ticket lock)."""
    runbooks = registry.for_event(event.kind, event.desk)
    empty = f"no runbook acts on {event.kind.value} events"
    return run_runbooks(runtime, event.desk, event.ticket_id, runbooks, run, empty=empty)


def lock_key(runtime: Runtime, event: Event) -> str:
    return ticket_lock_key(runtime.prefix, event.desk, event.ticket_id)


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
        runbooks = ",".join(r.name for r in registry.for_event(event.kind, event.desk)) or "none"
        try:
            with ticket_lock(runtime.redis, lock_key(runtime, event)):
                decision = handle_event(
                    runtime, event, Run(key=event.id, now=datetime.now(UTC), source="event", event=event)
                )
        except RETRIED:
            tally("task_outcomes", (runbooks, "retried"))
            raise
        except Exception:
            tally("task_outcomes", (runbooks, "failed"))
            raise
        tally("task_outcomes", (runbooks, "done"))
        runtime.eventlog.set_state(event_id, State.DONE, decision=decision)
        log.info("event processed", outcome=decision.outcome, actions=len(decision.actions))
    finally:
        structlog.contextvars.clear_contextvars()
    return State.DONE.value
