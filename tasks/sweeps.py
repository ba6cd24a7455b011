"""Periodic work run by beat (and on demand by `helpdesk-bot sweep`).

- `sweep_desk`: the periodic runbooks of one desk (`tasks/registry.py`): for each, page through the desk's
  cursor search for the tickets its selector names, read each candidate, decide as of `now` (pure), and
  execute through the same plan path as events. A ticket whose lock is held (an event is being handled)
  is left to the next sweep. A sweep's plan is keyed by runbook and ticket: a sweep killed half-way
  resumes that ticket's unfinished plan on the next run instead of deciding again, so no customer gets a
  message twice; once a plan is complete the next sweep decides afresh.
- `requeue_stale`: an event still `queued` long after every retry would have run means its message was
  lost (e.g. Redis restarted without persistence between record and consume); an event held by a worker
  that has stopped beating is stranded (see `tasks.stranded`) and is requeued within a sweep of its
  worker's death. Requeueing is safe: the intake task skips events already handled and every action
  checks the ticket before writing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from bot.domain.decisions import RunbookResult
from bot.domain.errors import Conflict
from bot.eventlog import EventLog
from bot.locks import LockBusy, ticket_lock
from connectors.base import Helpdesk, iter_search
from tasks import registry
from tasks.base import HelpdeskTask
from tasks.cadence import Cadence
from tasks.celery_app import MAX_COUNTDOWN, SWEEP_QUEUE, app
from tasks.pipeline import Run, run_one
from tasks.registry import Runbook
from tasks.runtime import Runtime, get_runtime
from tasks.stranded import find_stranded, requeue_stranded

log = structlog.get_logger(__name__)

STALE_AFTER = timedelta(seconds=2 * MAX_COUNTDOWN)


@dataclass(frozen=True)
class SweepRow:
    """One ticket a periodic runbook looked at, and what it decided (or why it was skipped)."""

    desk: str
    ticket: str
    runbook: str
    result: RunbookResult


def sweep_desk(
    runtime: Runtime, desk_name: str, now: datetime, *, dry_run: bool, due_only: bool = False
) -> Iterator[SweepRow]:
    """Every periodic runbook of `desk_name` over the tickets it selects, as of `now` (rows as they come).

    With `due_only` (beat's sweeps) a runbook runs only when its `Schedule.every` has passed since its last run on
    this desk (`tasks/cadence.py`); without it (`helpdesk-bot sweep`, an operator asking now) every one runs.
    """
    cadence = Cadence(runtime.redis, runtime.prefix)
    for runbook in registry.periodic(desk_name):
        assert runbook.schedule is not None  # periodic() only returns scheduled runbooks
        claim = due_only and not dry_run  # a dry run changes nothing, its cadence included
        turn = cadence.claim(desk_name, runbook.name, runbook.schedule.every, now) if claim else None
        if turn is not None and not turn.taken:
            log.info("runbook not due", desk=desk_name, runbook=runbook.name, last_run=str(turn.last))
            continue
        try:
            yield from _sweep_runbook(runtime, desk_name, runbook, now, dry_run=dry_run)
        except BaseException:
            if turn is not None:  # the retry runs it again rather than waiting a whole period
                cadence.release(desk_name, runbook.name, turn)
            raise


def _sweep_runbook(
    runtime: Runtime, desk_name: str, runbook: Runbook, now: datetime, *, dry_run: bool
) -> Iterator[SweepRow]:
    """One periodic runbook over the tickets its selector names on one desk."""
    assert runbook.schedule is not None
    desk = runtime.desk(desk_name)
    query = runbook.schedule.select(runtime.policy, desk_name, now)
    if query is None:
        return
    for candidate in iter_search(desk, query):
        key = f"sweep:{desk_name}:{candidate.id}"
        run = Run(key=key, now=now, source="sweep --dry-run" if dry_run else "sweep", dry_run=dry_run)
        try:
            with ticket_lock(runtime.redis, f"{runtime.prefix}lock:{desk_name}:{candidate.id}"):
                result = sweep_ticket(runtime, desk, candidate.id, runbook, run)
        except LockBusy:
            result = RunbookResult(runbook.name, "skipped: an event for this ticket is being handled")
        yield SweepRow(desk_name, candidate.id, runbook.name, result)


def sweep_ticket(runtime: Runtime, desk: Helpdesk, ticket_id: str, runbook: Runbook, run: Run) -> RunbookResult:
    """One periodic runbook on one ticket, read right before deciding; its writes checked against what landed.

    A version-guarded write refused because the ticket changed since it was read (`Conflict`: a customer or an
    agent wrote) is decided again on the ticket as it is now. After the writes, a runbook with a `recheck` reads
    the ticket back and puts right what a reply that landed during the write (unguarded on JSM) invalidated.
    """
    ticket = desk.get_ticket(ticket_id)
    try:
        result = run_one(runtime, desk, ticket, runbook, run, fresh_when_complete=True)
    except Conflict:
        ticket = desk.get_ticket(ticket_id)
        try:
            result = run_one(runtime, desk, ticket, runbook, run, fresh_when_complete=True)
        except Conflict:
            return RunbookResult(runbook.name, "skipped: the ticket keeps changing; the next sweep decides again")
    recheck = runbook.recheck
    if recheck is None or run.dry_run or not result.writes_sent:
        return result
    decided = ticket
    check = Runbook(f"{runbook.name}-recheck", lambda s: recheck(s, decided))
    fixed = run_one(runtime, desk, desk.get_ticket(ticket_id), check, run, fresh_when_complete=True)
    if not fixed.actions:
        return result
    outcome = f"{result.outcome}; then {fixed.outcome}"
    return replace(
        result,
        outcome=outcome,
        actions=result.actions + fixed.actions,
        writes_sent=result.writes_sent + fixed.writes_sent,
    )


@app.task(name="helpdesk.sweep_desk", base=HelpdeskTask, queue=SWEEP_QUEUE)
def sweep_desk_task(desk: str) -> int:
    """Beat's entry point: one sweep of one desk, as of now, of the runbooks that are due; returns how many
    tickets it changed."""
    rows = list(sweep_desk(get_runtime(), desk, datetime.now(UTC), dry_run=False, due_only=True))
    changed = sum(1 for row in rows if row.result.writes_sent)
    log.info("sweep done", desk=desk, tickets=len(rows), changed=changed)
    return changed


def stale_events(eventlog: EventLog, now: datetime) -> list[str]:
    """Queued events older than STALE_AFTER whose last activity is older than STALE_AFTER too."""
    stale = []
    for rec in eventlog.records(eventlog.queued_before(now - STALE_AFTER)):
        last = datetime.fromisoformat(rec.updated_at) if rec.updated_at else rec.event.received_at
        if now - last >= STALE_AFTER:
            stale.append(rec.event.id)
    return stale


def requeue_stale(runtime: Runtime, *, dry_run: bool = False, now: datetime | None = None) -> list[str]:
    from tasks.intake import process_event

    now = now or datetime.now(UTC)
    found = stale_events(runtime.eventlog, now)
    if not dry_run:
        for event_id in found:
            process_event.delay(event_id)
            log.warning("requeued stale event", event_id=event_id)
    return found + _requeue_stranded(runtime, now, dry_run, skip=set(found))


def _requeue_stranded(runtime: Runtime, now: datetime, dry_run: bool, skip: set[str]) -> list[str]:
    """Events whose worker died while holding them (already requeued ones in `skip` are left alone)."""
    from tasks.intake import process_event

    stranded = [s for s in find_stranded(runtime, now) if s.event_id not in skip]
    if not dry_run:
        requeue_stranded(runtime, stranded, process_event.delay, now)
    return [s.event_id for s in stranded]


@app.task(name="helpdesk.sweep_stale", base=HelpdeskTask, queue=SWEEP_QUEUE)
def sweep_stale() -> int:
    return len(requeue_stale(get_runtime()))
