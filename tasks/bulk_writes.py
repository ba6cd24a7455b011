"""The writes of many tickets' plans, sent together through the desk's bulk endpoint (`Helpdesk.bulk_apply`).

A sweep that decided a step on many tickets stores each ticket's plan (`tasks.executor`) as usual, then hands
it here instead of writing it at once. A flush sends, in rounds, every pending ticket's next write in one
bulk call (Zendesk: `update_many` jobs of 100, each ticket with its own body), marks each write done as its
job result says, and goes on until every plan is complete or has failed. A plan's first write carries the
version of the search result it was decided on (Zendesk `safe_update`), stored in the plan before it is sent:
a ticket changed since (a customer replied, an agent acted) is refused by the desk and given back as a
conflict, to be decided again on the ticket as it is now.

The id of the job carrying a write is stored in the plan before the job is waited for. A worker that dies
while jobs run leaves plans whose next write names its job: the next run asks the desk for that job's result
instead of sending the write again, so the rest of the plan (the internal note after the customer's comment)
still goes out, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.domain.decisions import RunbookResult
from bot.domain.tickets import BulkJob, Ticket, TicketChanges
from connectors.base import BulkJobs, chunked
from tasks.executor import Plan, PlannedWrite, PlanStore, changes_from_json

CONFLICT = "conflict"
SAVE_CHUNK = 100
"""Plans stored per Redis round trip. A flush holds thousands of plans (`tasks.sweeps.BULK_BATCH`) of a few KiB of
JSON each; sent in one pipeline, their JSON and the packed command (tens of MiB) are all alive at once, and the
allocator keeps that peak for the rest of the worker's life. A bulk job's hundred keeps it below a MiB."""


@dataclass
class PendingPlan:
    ticket: Ticket
    """The search result the plan was decided on."""
    key: str
    plan: Plan
    result: RunbookResult


def guard_of(plan: Plan) -> str | None:
    """The version the plan's first write is guarded by (kept in that write's `result`)."""
    first = plan.writes[0]
    return str((first.result or {}).get("guard") or "") or None


def with_guard(plan: Plan, version: str) -> Plan:
    plan.writes[0].result = {**(plan.writes[0].result or {}), "guard": version}
    return plan


def bulk_ready(plan: Plan) -> bool:
    """Plans of plain updates to their own ticket (no linked issue) can go through the bulk endpoint."""
    return all(w.kind == "update" and not w.ticket_id for w in plan.writes)


class BulkWriter:
    """Pending plans of one desk, flushed when `size` tickets are waiting (and at the end of a sweep)."""

    def __init__(self, desk: BulkJobs, store: PlanStore, size: int) -> None:
        self.desk, self.store, self.size = desk, store, size
        self.pending: dict[str, PendingPlan] = {}

    def add(self, item: PendingPlan) -> None:
        self.pending[item.ticket.id] = item

    def full(self) -> bool:
        return len(self.pending) >= self.size

    def flush(self) -> Iterator[tuple[PendingPlan, str | None]]:
        """Send every pending plan; yields each with None (all its writes landed), `CONFLICT`, or the error.
        Plans are stored before their first write is sent and after each round (one Redis round trip each)."""
        active, self.pending = self.pending, {}
        self._save(active.values())
        while active:
            jobs = self._send(active)
            outcome = self.desk.bulk_results(jobs)
            ended: list[tuple[PendingPlan, str | None]] = []
            for tid in [t for job in jobs for t in job.tickets]:
                item = active[tid]
                write = _next_write(item.plan)
                error = outcome.errors.get(tid, "no result for this ticket")
                write.result = {k: v for k, v in (write.result or {}).items() if k != "job"} or None
                if error is not None:
                    ended.append((item, CONFLICT if tid in outcome.conflicts else error))
                    continue
                write.done = True
                if all(w.done for w in item.plan.writes):
                    ended.append((item, None))
            self._save(active.values())
            for item, error in ended:
                del active[item.ticket.id]
                yield item, error

    def _send(self, active: dict[str, PendingPlan]) -> list[BulkJob]:
        """Each plan's next write in bulk jobs (a write an earlier run already sent is asked about, not resent);
        every plan records the job that carries its write before anything is waited for."""
        sent: list[BulkJob] = []
        changes: dict[str, TicketChanges] = {}
        versions: dict[str, str] = {}
        for tid, item in active.items():
            write = _next_write(item.plan)
            job = (write.result or {}).get("job")
            if job:
                sent.append(BulkJob(str(job), (tid,)))
                continue
            changes[tid] = changes_from_json(write.payload)
            guard = guard_of(item.plan) if write is item.plan.writes[0] else None
            if guard:
                versions[tid] = guard
        for job in self.desk.submit_bulk(changes, versions) if changes else []:
            for tid in job.tickets:
                write = _next_write(active[tid].plan)
                write.result = {**(write.result or {}), "job": job.id}
            sent.append(job)
        self._save(active[t] for job in sent for t in job.tickets)
        return sent

    def _save(self, items: Iterable[PendingPlan]) -> None:
        """Store the items' plans, `SAVE_CHUNK` per round trip."""
        for chunk in chunked(list(items), SAVE_CHUNK):
            self.store.save_many({item.key: item.plan for item in chunk})


def _next_write(plan: Plan) -> PlannedWrite:
    return next(w for w in plan.writes if not w.done)
