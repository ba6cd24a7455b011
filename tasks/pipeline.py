"""The one path every runbook runs through: read the ticket, gather, decide (pure), execute once.

Event-driven runs (the worker, `replay`), periodic ones (the sweeps) and the CLI (`triage`) all come here.
Each runbook's writes become a stored plan (`tasks.executor`) keyed by what started it, so a retried
task resumes the plan instead of deciding again, and nothing is written twice. Runbooks of one event run
in the registry's order on one read of the ticket: after a runbook wrote, the next decides on that read with the
writes applied (`executor.snapshot_after`, carrying the version the desk answered with, so a person's change
in between still turns the next write into `Conflict`); the ticket is read again only where that cannot be
known (a linked issue was made, a plan resumed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.domain.actions import Action, Comment, CreateLinkedBug, PostChat, RecordFeedback
from bot.domain.decisions import Decision, RunbookResult, action_key
from bot.domain.events import Event
from bot.domain.tickets import Ticket
from bot.policy.runbook import Situation, Verdict
from connectors.base import Helpdesk
from tasks.bulk_writes import guard_of
from tasks.executor import (
    ChatPost,
    People,
    Plan,
    PlannedWrite,
    PlanStore,
    describe_planned,
    plan_writes,
    resolve_people,
    run_plan,
    snapshot_after,
)
from tasks.registry import Runbook
from tasks.runtime import Runtime

NOT_REPEATED = (Comment, CreateLinkedBug, PostChat, RecordFeedback)
"""Actions a replay does not carry out again when the first run already did: a comment (or chat message) cannot
be told apart from the same one posted twice, and a linked issue or a feedback record is made once. Field
changes are compared with the ticket instead, so a replay restores what a person undid only where the policy
still says so."""


@dataclass(frozen=True)
class Run:
    """What started a run: its plan keys derive from `key`, its decision records `source` and `now`."""

    key: str
    now: datetime
    source: str
    dry_run: bool = False
    event: Event | None = None
    previous: Decision | None = None
    """A replay's first decision: each runbook is told its own earlier actions (see `Situation`)."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """Facts given by whoever started the run (e.g. `escalate-bug` forces a bug), merged with gathered ones."""


def run_runbooks(
    runtime: Runtime, desk_name: str, ticket_id: str, runbooks: Sequence[Runbook], run: Run, *, empty: str
) -> Decision:
    """Run `runbooks` in order on one ticket; `empty` is the outcome when there are none."""
    if not runbooks:
        return Decision.of((), at=run.now.isoformat(), source=run.source, empty=empty)
    desk = runtime.desk(desk_name)
    ticket = desk.get_ticket(ticket_id)
    results: list[RunbookResult] = []
    for runbook in runbooks:
        result, plan = _run_one(runtime, desk, ticket, runbook, run)
        results.append(result)
        if result.writes_sent and runbook is not runbooks[-1]:
            guarded = bool(getattr(desk, "guards_writes", True))
            after = snapshot_after(ticket, plan, desk.me(), run.now, guarded=guarded) if plan is not None else None
            ticket = after or desk.get_ticket(ticket_id)
    return Decision.of(tuple(results), at=run.now.isoformat(), source=run.source, empty=empty)


def decide_one(runtime: Runtime, ticket: Ticket, runbook: Runbook, run: Run) -> Verdict:
    """Gather and decide, writing nothing (a dry run's decision is this and no more)."""
    previous = _previous_actions(run.previous, runbook.name)
    situation = Situation(ticket.desk, ticket, runtime.policy, run.now, run.event, dict(run.facts), previous)
    if runbook.gather is not None:
        gathered = runbook.gather(runtime, situation, dry_run=run.dry_run)
        situation = replace(situation, facts={**run.facts, **gathered})
    return runbook.decide(situation)


def run_one(
    runtime: Runtime, desk: Helpdesk, ticket: Ticket, runbook: Runbook, run: Run, *, fresh_when_complete: bool = False
) -> RunbookResult:
    """One runbook on one ticket: resume its stored plan, else gather, decide and execute.

    An event's plan, once complete, *is* the event's outcome (a redelivery finds it and does nothing).
    A sweep's plan key is per ticket, not per run: with `fresh_when_complete` a complete plan only means
    the last sweep finished, and this one decides afresh.
    """
    return _run_one(runtime, desk, ticket, runbook, run, fresh_when_complete=fresh_when_complete)[0]


def _run_one(
    runtime: Runtime, desk: Helpdesk, ticket: Ticket, runbook: Runbook, run: Run, *, fresh_when_complete: bool = False
) -> tuple[RunbookResult, Plan | None]:
    """`run_one`, with the plan this run wrote from start to end (None when it resumed one or wrote nothing).

    A plan that keeps the version it was decided on (a sweep's bulk plan, `tasks.bulk_writes`) resumes guarded
    by that version, not the ticket's current one: if its first write landed before the run was cut short, the
    desk refuses it again and the runbook decides anew on what is there."""
    store = PlanStore(runtime.redis, runtime.prefix)
    key = f"{run.key}:{runbook.name}"
    stored = None if run.dry_run else _stored_plan(store, key, run.key, runbook.name)
    if stored is not None and fresh_when_complete and all(w.done for w in stored.writes):
        stored = None
    if stored is not None:
        guard = guard_of(stored)
        decided_on = replace(ticket, version=guard) if guard and not stored.writes[0].done else ticket
        sent = run_plan(runtime.desk, decided_on, stored, store, key, _chat(runtime), lambda: runtime.feedback)
        return stored.result.sent(stored.result.writes_sent + sent, resumed=True), None
    verdict = decide_one(runtime, ticket, runbook, run)
    result, writes = compile_verdict(runtime, desk, ticket, runbook.name, verdict, run)
    if run.dry_run or not writes:
        return result, None
    plan = Plan(runbook=runbook.name, writes=writes, result=result)
    store.save(key, plan)
    sent = run_plan(runtime.desk, ticket, plan, store, key, _chat(runtime), lambda: runtime.feedback)
    return result.sent(sent), plan


def compile_verdict(
    runtime: Runtime, desk: Helpdesk, ticket: Ticket, runbook: str, verdict: Verdict, run: Run
) -> tuple[RunbookResult, list[PlannedWrite]]:
    """A verdict's result (as the event log and `sweep` show it) and the writes that carry it out."""
    actions = list(verdict.actions)
    result = RunbookResult(
        runbook=runbook,
        outcome=verdict.outcome,
        actions=tuple(a.describe() for a in actions),
        shadow=verdict.shadow,
        due=verdict.due.isoformat() if verdict.due else None,
    )
    if verdict.shadow is not None or not actions:
        return result, []
    if run.previous is not None:
        actions = _not_done_before(actions, _previous_actions(run.previous, runbook) or ())
    own = [a for a in actions if _target(a, ticket) == (ticket.desk, ticket.id)]
    people = resolve_people(desk, own, create=not run.dry_run, cache=runtime.people)
    writes = _writes(desk, ticket, own, people) + _writes_elsewhere(runtime, ticket, actions)
    result = replace(result, writes=tuple(describe_planned(w) for w in writes), unresolved_people=tuple(people.missing))
    return result, writes


def _chat(runtime: Runtime) -> ChatPost:
    """Posts through the policy's chat channels, built only when a plan has a chat message to send."""
    return lambda channel, text, thread_key: runtime.chat.post(channel, text, thread_key=thread_key)


def _target(action: Action, ticket: Ticket) -> tuple[str, str]:
    if isinstance(
        action, CreateLinkedBug | PostChat | RecordFeedback
    ):  # made elsewhere, for (and noted on) this ticket
        return ticket.desk, ticket.id
    return action.desk or ticket.desk, action.ticket_id or ticket.id


def _writes(desk: Helpdesk, ticket: Ticket, actions: Sequence[Action], people: People) -> list[PlannedWrite]:
    atomic, groups = bool(getattr(desk, "atomic_writes", False)), bool(getattr(desk, "holds_groups", True))
    audit_field = bool(getattr(desk, "audit_field", None))
    return plan_writes(ticket, actions, people, atomic=atomic, groups=groups, audit_field=audit_field)


def _writes_elsewhere(runtime: Runtime, ticket: Ticket, actions: Sequence[Action]) -> list[PlannedWrite]:
    """Writes to other tickets (a dev bug's news on its support ticket), compiled against their own snapshot."""
    targets = dict.fromkeys(t for a in actions if (t := _target(a, ticket)) != (ticket.desk, ticket.id))
    out: list[PlannedWrite] = []
    for desk_name, ticket_id in targets:
        desk = runtime.desk(desk_name)
        other = desk.get_ticket(ticket_id)
        mine = [a for a in actions if _target(a, ticket) == (desk_name, ticket_id)]
        for write in _writes(desk, other, mine, People()):
            write.ticket_id = ticket_id
            out.append(write)
    return out


def _stored_plan(store: PlanStore, key: str, run_key: str, runbook: str) -> Plan | None:
    """The plan of an interrupted run. Plans stored before runbooks had names were triage's, keyed by
    the event id alone; an event in flight during an upgrade resumes from it."""
    plan = store.load(key)
    if plan is None and runbook == "triage":
        legacy = store.load(run_key)
        plan = legacy if legacy is not None and legacy.version == 1 else None
    return plan


def _previous_actions(previous: Decision | None, runbook: str) -> tuple[Mapping[str, Any], ...] | None:
    if previous is None:
        return None
    return tuple(a for r in previous.runbooks if r.runbook == runbook for a in r.actions)


def _not_done_before(actions: list[Action], previous: Sequence[Mapping[str, Any]]) -> list[Action]:
    done = {action_key(dict(a)) for a in previous}
    return [a for a in actions if not (isinstance(a, NOT_REPEATED) and action_key(a.describe()) in done)]
