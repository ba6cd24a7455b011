"""The I/O of the escalation runbook (`bot/policy/escalation.py`): repeat-customer counts from the desk's
search, the desk's SLA clocks (JSM) and the escalation group's agents, each read only when a rule whose
other conditions hold needs it, so a ticket no rule can match costs no call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.policy import escalation
from bot.policy.runbook import Situation
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> Mapping[str, Any]:
    """Facts for an event's decision (every rule not fired yet)."""
    return _gather(runtime, situation, sla_only=False)


def gather_sla(runtime: Runtime, situation: Situation, *, dry_run: bool) -> Mapping[str, Any]:
    """Facts for the periodic check (the rules with an SLA condition)."""
    return _gather(runtime, situation, sla_only=True)


def _gather(runtime: Runtime, situation: Situation, *, sla_only: bool) -> Mapping[str, Any]:
    need = escalation.needs(situation, sla_only=sla_only)
    desk = runtime.desk(situation.desk)
    facts: dict[str, Any] = {}
    read_sla = getattr(desk, "sla", None)
    if need.sla and read_sla is not None:
        facts["sla"] = tuple(read_sla(situation.ticket))
    if need.repeats:
        facts["repeat"] = {
            escalation.repeat_key(r): desk.count(escalation.repeat_query(situation.ticket, r, situation.now))
            for r in need.repeats
        }
    group_id = escalation.needs_agents(replace(situation, facts={**situation.facts, **facts}), sla_only=sla_only)
    if group_id is not None:
        facts["agents"] = desk.group_agents(group_id)
    return facts
