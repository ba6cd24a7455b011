"""Replay: run a recorded event again against the ticket's current state, and compare.

With `dry_run` nothing is written: the handler decides only. Otherwise the handler runs for real
(its actions are idempotent, so what was already done is not done twice) and the event's record is
updated, keeping the first decision for the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.eventlog import EventRecord, State
from bot.locks import ticket_lock, ticket_lock_key
from tasks.intake import handler_for
from tasks.runtime import Runtime


@dataclass(frozen=True)
class ReplayResult:
    record: EventRecord
    before: list[dict[str, Any]]
    now: dict[str, Any]


def replay_event(runtime: Runtime, event_id: str, *, dry_run: bool) -> ReplayResult | None:
    record = runtime.eventlog.get(event_id)
    if record is None:
        return None
    event = record.event
    handler = handler_for(event.kind)
    if dry_run:
        decision = handler(event, runtime, True)
    else:
        with ticket_lock(runtime.redis, ticket_lock_key(runtime.prefix, event.desk, event.ticket_id)):
            decision = handler(event, runtime, False)
        decision = {**decision, "first_decision": record.decision.get("first_decision", record.decision)}
        runtime.eventlog.set_state(event_id, State.DONE, decision=decision)
    return ReplayResult(record=record, before=record.actions, now=decision)
