"""Triage a new ticket: read it, ask the policy what to do, do it once.

The I/O around the pure decision (`bot.policy.triage`): read the ticket, list the candidate agents,
take a round-robin turn, resolve people by email, then run the writes as a stored plan (see
`tasks.executor`) so that retries and redeliveries never act twice. In shadow mode the decision is
recorded but nothing is written; `helpdesk-bot shadow-report` later compares it with what agents did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.events import Event, EventKind
from bot.policy.actions import Action, Assign, Resolve, SetRequestType
from bot.policy.triage import decide_triage, plan_triage
from connectors.base import Helpdesk, Ticket
from tasks.executor import PlanStore, compile_writes, describe_write, new_plan, resolve_people, run_plan
from tasks.intake import HANDLERS
from tasks.rotation import Rotation
from tasks.runtime import Runtime


def triage_ticket(runtime: Runtime, desk_name: str, ticket_id: str, *, plan_key: str, dry_run: bool) -> dict[str, Any]:
    """Decide and (unless `dry_run`) carry out triage of one ticket; returns the decision record.

    `plan_key` names the stored write plan: the event id for webhook-driven runs, so a retried task
    resumes the same plan instead of deciding again.
    """
    desk = runtime.desk(desk_name)
    store = PlanStore(runtime.redis, runtime.prefix)
    stored = None if dry_run else store.load(plan_key)
    ticket = desk.get_ticket(ticket_id)
    if stored is not None:
        sent = run_plan(desk, ticket, stored, store, plan_key)
        return {**stored["decision"], "writes_sent": sent, "resumed": True}
    policy = runtime.policy
    now = datetime.now(UTC)
    plan = plan_triage(ticket, policy, desk_name, now)
    if plan.skip:
        return {"outcome": f"not triaged: {plan.skip}", "actions": []}
    agents = desk.group_agents(plan.group_id, with_load=plan.pool is None) if plan.group_id and plan.needs_agent else []
    turn = _turn(runtime, desk_name, plan.pool, ticket, dry_run) if plan.pool else None
    actions = decide_triage(plan, ticket, policy, now, agents, turn)
    described = [a.describe() for a in actions]
    decision: dict[str, Any] = {
        "outcome": f"triaged as {plan.request_type} (rule {plan.rule})",
        "rule": plan.rule,
        "request_type": plan.request_type,
        "actions": described,
    }
    if plan.shadow:
        decision["outcome"] = f"shadow: would triage as {plan.request_type} (rule {plan.rule})"
        decision["shadow"] = _shadow_record(actions, plan)
        return decision
    people = resolve_people(desk, actions, create=not dry_run, cache=runtime.people)
    writes = compile_writes(ticket, actions, people, atomic=_atomic(desk))
    decision["writes"] = [describe_write(w) for w in writes]
    if people.missing:
        decision["unresolved_people"] = list(people.missing)
    if dry_run:
        return decision
    stored = {**new_plan(writes, described), "decision": decision}
    store.save(plan_key, stored)
    decision["writes_sent"] = run_plan(desk, ticket, stored, store, plan_key)
    return decision


def _turn(runtime: Runtime, desk: str, pool: str, ticket: Ticket, dry_run: bool) -> int:
    rotation = Rotation(runtime.redis, runtime.prefix)
    return rotation.peek(desk, pool, ticket.id) if dry_run else rotation.take(desk, pool, ticket.id)


def _atomic(desk: Helpdesk) -> bool:
    """Whether one write carries fields, comment and tags together (Zendesk yes, Jira no)."""
    return bool(getattr(desk, "atomic_writes", False))


def _shadow_record(actions: Sequence[Action], plan: Any) -> dict[str, Any]:
    """What the bot would have set, in the terms `shadow-report` compares with agents' own choices."""
    out: dict[str, Any] = {"rule": plan.rule, "request_type": plan.request_type, "group_id": plan.group_id}
    for action in actions:
        if isinstance(action, Resolve):
            out["resolution"] = action.resolution
        elif isinstance(action, Assign):
            out["group_id"] = action.group_id or out["group_id"]
            out["agent_id"] = action.agent_id
        elif isinstance(action, SetRequestType):
            out["request_type_value"] = action.request_type
    return out


def handle_ticket_created(event: Event, runtime: Runtime, dry_run: bool) -> dict[str, Any]:
    return triage_ticket(runtime, event.desk, event.ticket_id, plan_key=event.id, dry_run=dry_run)


HANDLERS[EventKind.TICKET_CREATED] = handle_ticket_created
