"""The intake task: load a recorded event, decide what to do, do it, record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from bot.eventlog import State
from bot.events import Event, EventKind
from bot.locks import ticket_lock
from bot.metrics import observe_queue_latency
from tasks.base import HelpdeskTask
from tasks.celery_app import app
from tasks.runtime import Runtime, get_runtime

log = structlog.get_logger(__name__)

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
        with ticket_lock(runtime.redis, f"{runtime.prefix}lock:{event.desk}:{event.ticket_id}"):
            decision = handler_for(event.kind)(event, runtime, False)
        runtime.eventlog.set_state(event_id, State.DONE, decision=decision)
        log.info("event processed", outcome=decision.get("outcome"), actions=len(decision.get("actions", [])))
    finally:
        structlog.contextvars.clear_contextvars()
    return State.DONE.value
