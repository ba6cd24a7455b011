"""Which agent gets a ticket: round-robin, least-loaded or by skill, skipping agents who are away.

Pure: the candidates (with their open-ticket counts) and the round-robin turn are inputs. The turn comes
from one Redis counter per pool (`tasks/rotation.py`), so concurrent workers never hand out the same turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.tickets import AgentLoad, Person
from bot.policy.schema import Assignment, Policy


@dataclass(frozen=True)
class Choice:
    agent: Person | None
    why: str


def is_away(policy: Policy, agent: Person, now: datetime) -> bool:
    today = now.date()
    return any(a.from_ <= today <= a.to for a in policy.agent(agent.email).away)


def eligible(
    candidates: list[AgentLoad], assignment: Assignment, policy: Policy, now: datetime
) -> tuple[list[AgentLoad], list[str]]:
    """Candidates who can take the ticket now, and a note for each one skipped."""
    keep: list[AgentLoad] = []
    skipped: list[str] = []
    skills = assignment.skills if assignment.strategy == "skills" else None
    for load in sorted(candidates, key=lambda c: _order(c.agent.id)):
        agent = load.agent
        profile = policy.agent(agent.email)
        if not agent.available:
            skipped.append(f"{agent.name} unavailable on the desk")
        elif is_away(policy, agent, now):
            skipped.append(f"{agent.name} away (policy)")
        elif skills and skills.language and skills.language not in profile.languages:
            skipped.append(f"{agent.name} lacks language {skills.language}")
        elif skills and skills.product and skills.product not in profile.products:
            skipped.append(f"{agent.name} lacks product {skills.product}")
        else:
            keep.append(load)
    return keep, skipped


def choose_agent(
    assignment: Assignment, candidates: list[AgentLoad], policy: Policy, now: datetime, turn: int | None
) -> Choice:
    """The agent for a ticket, with the reasoning shown in the triage note.

    round_robin: eligible agents in id order, the `turn`-th (turns count from 1, as `tasks/rotation.py`
    hands them out), so N turns over k agents differ by at most one per agent; without a turn it falls back
    to least loaded. least_loaded: fewest open tickets, ties to the lowest id. skills: agents whose policy
    languages/products match, then least loaded. Nobody eligible: no agent (the group keeps the ticket).
    """
    pool, skipped = eligible(candidates, assignment, policy, now)
    note = f" (skipped: {'; '.join(skipped)})" if skipped else ""
    if not pool:
        return Choice(None, f"no eligible agent in group {assignment.group}{note}: left to the group")
    if assignment.strategy == "round_robin" and turn is not None:
        pick = pool[(turn - 1) % len(pool)]
        return Choice(pick.agent, f"round-robin turn {turn} in {assignment.group} ({len(pool)} eligible){note}")
    pick = min(pool, key=lambda c: (c.open_tickets, _order(c.agent.id)))
    label = "skills match, then least loaded" if assignment.strategy == "skills" else "least loaded"
    return Choice(pick.agent, f"{label}: {pick.open_tickets} open ticket(s) in {assignment.group}{note}")


def _order(agent_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order (Zendesk), others alphabetically (Jira account ids)."""
    return (0, agent_id.zfill(20)) if agent_id.isdigit() else (1, agent_id)
