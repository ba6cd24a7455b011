"""The pure half of a runbook: what a decision function sees and what it returns.

A runbook's decision is a function `Situation -> Verdict`: the ticket as read (with its comments), the
policy, the instant to decide as of (`now`, never the clock), the event that started it if any, and the
facts its gather step looked up (agents, a round-robin turn...). It returns typed actions, each with the
rule and the reason behind it. The registry (`tasks/registry.py`) says what starts each runbook; the
shared path in `tasks/pipeline.py` gathers, decides and executes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.domain.actions import Action
from bot.domain.events import Event
from bot.domain.tickets import Ticket, TicketQuery

if TYPE_CHECKING:
    from bot.policy.schema import Policy


@dataclass(frozen=True)
class Situation:
    desk: str
    ticket: Ticket
    policy: Policy
    now: datetime
    event: Event | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    previous: tuple[Mapping[str, Any], ...] | None = None
    """On a replay: the actions this runbook decided the first time, so it can recognise its own effects
    on the ticket (its tag, its assignment) instead of taking them for a person's. None otherwise."""

    @property
    def replaying(self) -> bool:
        return self.previous is not None


@dataclass(frozen=True)
class Verdict:
    outcome: str
    actions: tuple[Action, ...] = ()
    shadow: Mapping[str, Any] | None = None
    """Set when the runbook runs in shadow mode: recorded for `shadow-report`, nothing written."""
    due: datetime | None = None
    """When the runbook will act next on this ticket (periodic runbooks that are waiting)."""


Decide = Callable[[Situation], Verdict]
Select = Callable[["Policy", str, datetime], "TicketQuery | None"]
"""(policy, desk, now) -> the desk query of tickets a periodic runbook looks at, None when it is off."""
