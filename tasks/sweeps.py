"""Periodic sweeps run by beat (and on demand by `helpdesk-bot sweep`).

`requeue_stale`: an event still `queued` long after every retry would have run means its message was
lost (e.g. Redis restarted without persistence between record and consume); an event held by a worker
that has stopped beating is stranded (see `tasks.stranded`) and is requeued within a sweep of its
worker's death. Requeueing is safe: the intake task skips events already handled and every action
checks the ticket before writing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from bot.eventlog import EventLog
from tasks.base import HelpdeskTask
from tasks.celery_app import MAX_COUNTDOWN, SWEEP_QUEUE, app
from tasks.runtime import Runtime, get_runtime
from tasks.stranded import find_stranded, requeue_stranded

log = structlog.get_logger(__name__)

STALE_AFTER = timedelta(seconds=2 * MAX_COUNTDOWN)


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
