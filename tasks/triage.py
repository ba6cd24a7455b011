"""The triage runbook's gather step: the I/O its pure decision (`bot.policy.triage`) needs.

`plan_triage` (pure) says whether to triage and whom to ask; this step then lists the group's agents
and takes a round-robin turn, which `bot.policy.triage.decide` turns into actions. A dry run peeks at the
rotation instead of taking a turn, so it changes nothing.
"""

from __future__ import annotations

from typing import Any

from bot.domain.tickets import Ticket
from bot.policy.runbook import Situation
from bot.policy.triage import plan_triage
from tasks.rotation import Rotation
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> dict[str, Any]:
    ticket, desk_name = situation.ticket, situation.desk
    plan = plan_triage(ticket, situation.policy, desk_name, situation.now, situation.previous)
    if plan.skip:
        return {"plan": plan}
    desk = runtime.desk(desk_name)
    agents = desk.group_agents(plan.group_id, with_load=plan.pool is None) if plan.group_id and plan.needs_agent else []
    turn = _turn(runtime, desk_name, plan.pool, ticket, dry_run) if plan.pool else None
    return {"plan": plan, "agents": agents, "turn": turn}


def _turn(runtime: Runtime, desk: str, pool: str, ticket: Ticket, dry_run: bool) -> int:
    rotation = Rotation(runtime.redis, runtime.prefix)
    return rotation.peek(desk, pool, ticket.id) if dry_run else rotation.take(desk, pool, ticket.id)
