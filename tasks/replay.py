"""Replay: run a recorded event's runbooks again against the ticket's current state, and compare.

Replay reads the same registry as the worker. Each runbook is told what it decided the first time
(`Situation.previous`), so it recognises its own effects (its tag, its assignment) and decides as it did
then: a dry run shows `=` for every action that would be the same. A real replay carries out only what is
not already in effect (field changes are compared with the ticket; comments and linked issues of the first
run are not made again), and its decision is appended to the event's history: the first decision is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.decisions import Decision
from bot.eventlog import EventRecord
from bot.locks import ticket_lock
from tasks.base import HelpdeskTask
from tasks.celery_app import SWEEP_QUEUE, app
from tasks.intake import handle_event, lock_key
from tasks.pipeline import Run
from tasks.runtime import Runtime, get_runtime


@dataclass(frozen=True)
class ReplayResult:
    record: EventRecord
    now: Decision


class UnknownEvent(LookupError):
    """No such event id: expired (see HELPDESK_BOT_EVENT_TTL_DAYS) or never received."""


def replay_event(runtime: Runtime, event_id: str, *, dry_run: bool, now: datetime | None = None) -> ReplayResult:
    record = runtime.eventlog.get(event_id)
    if record is None:
        raise UnknownEvent(f"{event_id}: no such event (expired or never received)")
    event = record.event
    run = Run(
        key=f"replay:{event_id}:{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%S%f')}",
        now=now or datetime.now(UTC),
        source="replay --dry-run" if dry_run else "replay",
        dry_run=dry_run,
        event=event,
        previous=record.decision,
    )
    if dry_run:
        decision = handle_event(runtime, event, run)
    else:
        with ticket_lock(runtime.redis, lock_key(runtime, event)):
            decision = handle_event(runtime, event, run)
            runtime.eventlog.add_replay(event_id, decision)
    return ReplayResult(record=record, now=decision)


@app.task(name="helpdesk.replay_event", base=HelpdeskTask, queue=SWEEP_QUEUE)
def replay_task(event_id: str) -> str:
    """`helpdesk-bot replay --queue`: the same replay, run by a worker (visible in Flower)."""
    return replay_event(get_runtime(), event_id, dry_run=False).now.outcome
