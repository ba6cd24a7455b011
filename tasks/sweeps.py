"""Periodic work run by beat (and on demand by `helpdesk-bot sweep`).

- `sweep_desk`: the periodic runbooks of one desk (`tasks/registry.py`). For each, it pages through the
  desk's cursor search for the tickets its selector names and decides each ticket as its page arrives, so
  memory holds one page and one batch of writes, never the desk. A runbook with a `from_search` decision on a
  desk with bulk writes (Zendesk) acts on the search result alone where that is certain: the step's plan is
  stored, guarded by the result's version, and written with other tickets' in `update_many` jobs
  (`tasks.bulk_writes`); a ticket that changed since it was found is refused by the desk and decided again
  on a fresh read. Every other candidate is read, decided as of `now` (pure) and written through the same
  plan path as events, one ticket at a time under its lock (a ticket whose lock is held — an event is being
  handled — is left to the next sweep), with a read-back after customer-facing writes (`recheck`).
  Plans are keyed by runbook and ticket: a sweep killed half-way resumes a ticket's unfinished plan instead
  of deciding again, and the sweep itself resumes from its stored cursor (`tasks.sweep_cursor`), so no
  customer gets a message twice and no ticket is skipped. Calls go through the desk's API budget as sweep
  traffic (`tasks.budget`); progress is reported as it goes (a bar in the CLI, the task state in Flower).
- `requeue_stale`: an event still `queued` long after every retry would have run means its message was
  lost (e.g. Redis restarted without persistence between record and consume); an event held by a worker
  that has stopped beating is stranded (see `tasks.stranded`) and is requeued within a sweep of its
  worker's death. Requeueing is safe: the intake task skips events already handled and every action
  checks the ticket before writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded

from bot.domain.decisions import RunbookResult
from bot.domain.errors import Conflict, InvalidRequest
from bot.domain.tickets import Person, Ticket, TicketQuery
from bot.eventlog import EventLog
from bot.locks import LockBusy, ticket_lock
from bot.policy.runbook import Situation, Verdict
from connectors.base import BulkJobs, Helpdesk
from tasks import registry
from tasks.base import HelpdeskTask
from tasks.bulk_writes import CONFLICT, BulkWriter, PendingPlan, bulk_ready, guard_of, with_guard
from tasks.cadence import Cadence
from tasks.celery_app import MAX_COUNTDOWN, SWEEP_QUEUE, app
from tasks.executor import Plan, PlanStore, changes_from_json
from tasks.pipeline import Run, compile_verdict, run_one
from tasks.registry import Runbook
from tasks.runtime import Runtime, get_runtime
from tasks.stranded import find_stranded, requeue_stranded
from tasks.sweep_cursor import Checkpoint, CursorStore

log = structlog.get_logger(__name__)

STALE_AFTER = timedelta(seconds=2 * MAX_COUNTDOWN)
BULK_BATCH = 3000
"""Tickets whose writes are flushed together: 30 `update_many` jobs of 100, as many as Zendesk runs at once."""
NAMES_KEPT = 20_000
"""Requesters' names kept during a pass (then forgotten and looked up again), so memory stays bounded."""
SWEEP_LOCK_TTL = 600.0
"""Seconds a sweep's lock lives unless renewed: longer than a batch of bulk writes takes to land."""
RENEW_EVERY = 10.0
"""Seconds between two renewals of the sweep's lock (while tickets are decided and batches written)."""
PROGRESS_EVERY = 0.5
"""Seconds between two progress reports (each reads the budget's window in Redis)."""


@dataclass(frozen=True)
class SweepRow:
    """One ticket a periodic runbook looked at, and what it decided (or why it was skipped)."""

    desk: str
    ticket: str
    runbook: str
    result: RunbookResult


@dataclass
class SweepProgress:
    """How far a sweep has got: what the progress bar and the task's PROGRESS state show."""

    desk: str
    runbook: str = ""
    seen: int = 0
    changed: int = 0
    calls: int = 0
    """API calls this sweep has made to the desk."""
    budget_left: int | None = None
    """Calls the sweep may still make in the desk's current one-minute window."""

    def as_meta(self) -> dict[str, object]:
        return {
            "desk": self.desk,
            "runbook": self.runbook,
            "seen": self.seen,
            "changed": self.changed,
            "calls": self.calls,
            "budget_left": self.budget_left,
        }


Progress = Callable[[SweepProgress], None]


def sweep_desk(
    runtime: Runtime,
    desk_name: str,
    now: datetime,
    *,
    dry_run: bool,
    due_only: bool = False,
    progress: Progress | None = None,
) -> Iterator[SweepRow]:
    """Every periodic runbook of `desk_name` over the tickets it selects, as of `now` (rows as they come).

    With `due_only` (beat's sweeps) a runbook runs only when its `Schedule.every` has passed since its last run on
    this desk (`tasks/cadence.py`), or when a pass of it was cut short (its stored cursor is resumed); without it
    (`helpdesk-bot sweep`, an operator asking now) every one runs.
    """
    desk = runtime.desk(desk_name)
    cadence = Cadence(runtime.redis, runtime.prefix)
    cursors = CursorStore(runtime.redis, runtime.prefix)
    budget = runtime.budget(desk_name)
    status = SweepProgress(desk_name)
    first_call = budget.calls
    last = 0.0

    def report(force: bool = False) -> None:
        nonlocal last
        if progress is None or (not force and time.monotonic() - last < PROGRESS_EVERY):
            return
        last = time.monotonic()
        status.calls = budget.calls - first_call
        status.budget_left = budget.left()
        progress(status)

    for runbook in registry.periodic(desk_name):
        assert runbook.schedule is not None  # periodic() only returns scheduled runbooks
        claim = due_only and not dry_run and cursors.load(desk_name, runbook.name) is None  # dry runs change nothing
        turn = cadence.claim(desk_name, runbook.name, runbook.schedule.every, now) if claim else None
        if turn is not None and not turn.taken:
            log.info("runbook not due", desk=desk_name, runbook=runbook.name, last_run=str(turn.last))
            continue
        status.runbook = runbook.name
        try:
            for row in _sweep_runbook(runtime, desk, runbook, now, dry_run):
                status.seen += 1
                status.changed += bool(row.result.writes_sent)
                report()
                yield row
        except BaseException:
            if turn is not None:  # the retry runs it again rather than waiting a whole period
                cadence.release(desk_name, runbook.name, turn)
            raise
    report(force=True)


def _sweep_runbook(
    runtime: Runtime, desk: Helpdesk, runbook: Runbook, now: datetime, dry_run: bool
) -> Iterator[SweepRow]:
    """One runbook's pass over its candidates, resumed from a stored cursor when an earlier pass was cut short.

    One pass per desk and runbook at a time (a lock renewed as it goes): a sweep that finds one running — beat's
    next sweep while a long one still runs — leaves that runbook to it, so two never share a cursor."""
    assert runbook.schedule is not None  # periodic() only returns scheduled runbooks
    try:
        key = f"{runtime.prefix}sweep-lock:{desk.name}:{runbook.name}"
        with ticket_lock(runtime.redis, key, ttl=SWEEP_LOCK_TTL) as lock:
            last = time.monotonic()

            def renew() -> None:
                nonlocal last
                if time.monotonic() - last > RENEW_EVERY:
                    if not lock.owned():  # expired while a batch was written: another sweep may run it now
                        raise LockBusy(key)
                    lock.reacquire()
                    last = time.monotonic()

            yield from _pass(runtime, desk, runbook, now, dry_run, renew)
    except LockBusy:
        log.info("a sweep of this runbook is already running", desk=desk.name, runbook=runbook.name)


def _pass(
    runtime: Runtime, desk: Helpdesk, runbook: Runbook, now: datetime, dry_run: bool, renew: Callable[[], None]
) -> Iterator[SweepRow]:
    assert runbook.schedule is not None
    cursors = CursorStore(runtime.redis, runtime.prefix)
    saved = None if dry_run else cursors.load(desk.name, runbook.name)
    if saved is not None:
        now = saved.now
        log.info("sweep resumed", desk=desk.name, runbook=runbook.name, as_of=now.isoformat())
    query = runbook.schedule.select(runtime.policy, desk.name, now)
    if query is None:
        return
    sweep = _Pass(runtime, desk, runbook, now, dry_run)
    cursor = saved.cursor if saved is not None else None
    for page_cursor, tickets in _pages(desk, query, cursor):
        renew()
        if not dry_run and not sweep.pending():  # every earlier page is done: a restart starts at this one
            cursors.save(desk.name, runbook.name, Checkpoint(now, page_cursor))
        sweep.prefetch(tickets)
        for ticket in tickets:
            yield from sweep.candidate(ticket)
            renew()
            if sweep.full():
                yield from sweep.flush(renew)
                renew()
                if not dry_run:  # every earlier page is written; a restart re-reads this one
                    cursors.save(desk.name, runbook.name, Checkpoint(now, page_cursor))
    yield from sweep.flush(renew)
    if not dry_run:
        cursors.clear(desk.name, runbook.name)


def _pages(desk: Helpdesk, query: TicketQuery, cursor: str | None) -> Iterator[tuple[str | None, tuple[Ticket, ...]]]:
    """(the cursor that reads the page, its tickets) until the desk says there are no more. A stored cursor the
    desk no longer knows (expired) starts the search over: tickets already done are then found not due."""
    while True:
        try:
            page = desk.search(query, cursor)
        except InvalidRequest:
            if cursor is None:
                raise
            log.warning("stored sweep cursor expired: starting over", desk=desk.name)
            cursor = None
            continue
        yield cursor, page.tickets
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class _Pass:
    """The per-ticket work of one runbook's pass: decide from the search result, or read; batch the writes."""

    def __init__(self, runtime: Runtime, desk: Helpdesk, runbook: Runbook, now: datetime, dry_run: bool) -> None:
        self.runtime, self.desk, self.runbook, self.now, self.dry_run = runtime, desk, runbook, now, dry_run
        self.store = PlanStore(runtime.redis, runtime.prefix)
        self.writer = BulkWriter(desk, self.store, BULK_BATCH) if isinstance(desk, BulkJobs) else None
        self.from_search = runbook.from_search if self.writer is not None else None
        self.names: dict[str, Person] = {}
        self.verdicts: dict[str, Verdict | None] = {}
        """The current page's search-result decisions (made once for the name lookup, used again per ticket)."""
        self.unfinished: dict[str, Plan] = {}
        """The current page's plans that an earlier run left unfinished (looked up for the page at once)."""

    def run(self, ticket_id: str) -> Run:
        key = f"sweep:{self.desk.name}:{ticket_id}"
        return Run(key=key, now=self.now, source="sweep --dry-run" if self.dry_run else "sweep", dry_run=self.dry_run)

    def candidate(self, ticket: Ticket) -> Iterator[SweepRow]:
        run = self.run(ticket.id)
        key = f"{run.key}:{self.runbook.name}"
        stored = self.unfinished.pop(key, None)
        if stored is not None and self.writer is not None and bulk_ready(stored) and guard_of(stored):
            self.writer.add(PendingPlan(ticket, key, stored, stored.result))  # an earlier run's, resumed as it was
            return
        verdict = None if stored is not None else self._from_search(ticket)
        if verdict is None or self.writer is None:
            yield self.read_and_run(ticket.id)
            return
        result, writes = compile_verdict(self.runtime, self.desk, ticket, self.runbook.name, verdict, run)
        plan = Plan(runbook=self.runbook.name, writes=writes, result=result)
        if self.dry_run or not writes:
            yield SweepRow(self.desk.name, ticket.id, self.runbook.name, result)
        elif not bulk_ready(plan):
            yield self.read_and_run(ticket.id)
        else:  # stored when the batch is flushed, before anything is sent
            self.writer.add(PendingPlan(ticket, key, with_guard(plan, ticket.version), result))

    def _from_search(self, ticket: Ticket) -> Verdict | None:
        """The search-result decision, with the requester's name filled in when the step writes to them."""
        if self.from_search is None:
            return None
        situation = Situation(self.desk.name, ticket, self.runtime.policy, self.now)
        verdict = self.verdicts.pop(ticket.id) if ticket.id in self.verdicts else self.from_search(situation)
        if verdict is None or not verdict.actions or not self.needs_name(ticket):
            return verdict
        named = replace(ticket, requester=self.names.get(ticket.requester.id, ticket.requester))
        return self.from_search(replace(situation, ticket=named))

    def prefetch(self, tickets: tuple[Ticket, ...]) -> None:
        """What deciding a page on its search results needs besides the page, each in one round trip: the plans
        an earlier run left unfinished for its tickets (they resume whatever the ticket looks like now), and the
        names of the requesters its due steps write to (search results name them by id only; looked up 100 at a
        time where the desk can, and kept for the pass, at most `NAMES_KEPT`)."""
        if self.from_search is None:
            return
        if not self.dry_run:
            stored = self.store.load_many([f"{self.run(t.id).key}:{self.runbook.name}" for t in tickets])
            self.unfinished = {k: p for k, p in stored.items() if not all(w.done for w in p.writes)}
        decide = self.from_search
        self.verdicts = {t.id: decide(Situation(self.desk.name, t, self.runtime.policy, self.now)) for t in tickets}
        lookup = getattr(self.desk, "people", None)
        if lookup is None:
            return
        wanted = [t.requester.id for t in tickets if (v := self.verdicts[t.id]) and v.actions and self.needs_name(t)]
        missing = [i for i in dict.fromkeys(wanted) if i not in self.names]
        if len(self.names) + len(missing) > NAMES_KEPT:
            self.names.clear()
        if missing:
            found = lookup(missing)
            self.names.update({i: found.get(i, Person(i, "")) for i in missing})

    def needs_name(self, ticket: Ticket) -> bool:
        """Whether the search result lacks the requester's name the step's texts need (it then is looked up)."""
        kept = self.runbook.names_kept
        return not ticket.requester.name and (kept is None or not kept(ticket))

    def read_and_run(self, ticket_id: str) -> SweepRow:
        """The ticket read and its runbook run on it, under its lock (see `sweep_ticket`)."""
        try:
            with ticket_lock(self.runtime.redis, f"{self.runtime.prefix}lock:{self.desk.name}:{ticket_id}"):
                result = sweep_ticket(self.runtime, self.desk, ticket_id, self.runbook, self.run(ticket_id))
        except LockBusy:
            result = RunbookResult(self.runbook.name, "skipped: an event for this ticket is being handled")
        return SweepRow(self.desk.name, ticket_id, self.runbook.name, result)

    def after_conflict(self, item: PendingPlan) -> SweepRow:
        """The ticket changed since the search found it. If the change is this plan's own first write (an earlier
        run sent it and died before recording it: the ticket's follow-up state is the step's), the rest of the
        plan is written; otherwise the plan is dropped and the ticket decided again on a read."""
        first = item.plan.writes[0]
        recorded = changes_from_json(first.payload).followup_state
        if not first.done and recorded and self.desk.get_ticket(item.ticket.id).followup_state == recorded:
            first.done = True
            self.store.save(item.key, item.plan)
        else:
            self.store.drop(item.key)
        return self.read_and_run(item.ticket.id)

    def full(self) -> bool:
        return self.writer is not None and self.writer.full()

    def pending(self) -> bool:
        return self.writer is not None and bool(self.writer.pending)

    def flush(self, renew: Callable[[], None]) -> Iterator[SweepRow]:
        if self.writer is None:
            return
        for item, error in self.writer.flush():
            renew()
            tid = item.ticket.id
            if error is None:
                sent = item.result.sent(len(item.plan.writes))
                yield SweepRow(self.desk.name, tid, self.runbook.name, sent)
                continue
            if error == CONFLICT:
                yield self.after_conflict(item)
                continue
            self.store.drop(item.key)
            outcome = f"{item.result.outcome}; not written ({error}): the next sweep decides again"
            log.warning("sweep write failed", desk=self.desk.name, ticket=tid, error=error)
            yield SweepRow(self.desk.name, tid, self.runbook.name, replace(item.result, outcome=outcome))


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


@app.task(name="helpdesk.sweep_desk", base=HelpdeskTask, queue=SWEEP_QUEUE, bind=True)
def sweep_desk_task(self: HelpdeskTask, desk: str) -> int:
    """Beat's entry point: one sweep of one desk, as of now, of the runbooks that are due; returns how many
    tickets it changed.

    While it runs, the task's state is PROGRESS with the sweep's counts as meta (Flower shows them). A sweep
    that reaches the task's soft time limit hands over to a new task, which resumes from the stored cursor."""

    def progress(status: SweepProgress) -> None:
        if self.request.id:
            self.update_state(state="PROGRESS", meta=status.as_meta())

    seen = changed = 0
    try:
        rows = sweep_desk(get_runtime(), desk, datetime.now(UTC), dry_run=False, due_only=True, progress=progress)
        for row in rows:
            seen += 1
            changed += bool(row.result.writes_sent)
    except SoftTimeLimitExceeded:
        # A large desk takes longer than a task may run: stop here (what is done is stored, as after a crash)
        # and let a new task carry on from the stored cursor.
        log.info("sweep continues in a new task", desk=desk, tickets=seen, changed=changed)
        sweep_desk_task.apply_async((desk,), countdown=1)
        return changed
    log.info("sweep done", desk=desk, tickets=seen, changed=changed)
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
