"""What the bot decided about one ticket, as a typed, versioned record with one codec.

The event log keeps the first `Decision` of each event and every later replay's beside it; plans in
Redis carry one `RunbookResult` each. Records written before this version (plain dicts with `outcome`
and `actions` at the top, from the time triage was the only runbook) still read: `Decision.from_dict`
turns them into a one-runbook decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

DECISION_VERSION = 2


@dataclass(frozen=True)
class RunbookResult:
    """One runbook's part of a decision: its outcome, its actions (described), the writes they became."""

    runbook: str
    outcome: str
    actions: tuple[Mapping[str, Any], ...] = ()
    writes: tuple[str, ...] = ()
    writes_sent: int = 0
    resumed: bool = False
    shadow: Mapping[str, Any] | None = None
    unresolved_people: tuple[str, ...] = ()
    due: str | None = None
    """When this runbook next acts on the ticket (ISO-8601), for periodic runbooks that are waiting."""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: the values are JSON-ready already, and a deep copy of every action's text made
        # storing a sweep's thousands of plans cost more than deciding them.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["actions"] = [dict(a) for a in self.actions]
        data["writes"] = list(self.writes)
        data["unresolved_people"] = list(self.unresolved_people)
        data["shadow"] = dict(self.shadow) if self.shadow is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunbookResult:
        return cls(
            runbook=str(data.get("runbook") or "-"),
            outcome=str(data.get("outcome") or ""),
            actions=tuple(dict(a) for a in data.get("actions") or ()),
            writes=tuple(str(w) for w in data.get("writes") or ()),
            writes_sent=int(data.get("writes_sent") or 0),
            resumed=bool(data.get("resumed")),
            shadow=data.get("shadow"),
            unresolved_people=tuple(data.get("unresolved_people") or ()),
            due=data.get("due"),
        )

    def sent(self, writes_sent: int, *, resumed: bool = False) -> RunbookResult:
        return replace(self, writes_sent=writes_sent, resumed=resumed)


@dataclass(frozen=True)
class Decision:
    """Everything the runbooks started by one event (or one sweep of one ticket) decided, in order."""

    outcome: str
    runbooks: tuple[RunbookResult, ...] = ()
    at: str = ""
    """The instant the decision was made as of (ISO-8601): the clock, or `sweep --at`."""
    source: str = "event"
    """`event` (a worker), `replay`, `replay --dry-run`, `sweep` or `cli`."""
    version: int = DECISION_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [dict(a) for result in self.runbooks for a in result.actions]

    @property
    def writes_sent(self) -> int:
        return sum(r.writes_sent for r in self.runbooks)

    @classmethod
    def of(cls, results: tuple[RunbookResult, ...], *, at: str, source: str, empty: str) -> Decision:
        """The decision made of `results`; `empty` is the outcome when no runbook acts on this event."""
        outcome = "; ".join(f"{r.runbook}: {r.outcome}" for r in results) if results else empty
        return cls(outcome=outcome, runbooks=results, at=at, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "outcome": self.outcome,
            "at": self.at,
            "source": self.source,
            "runbooks": [r.to_dict() for r in self.runbooks],
            "actions": self.actions,
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        if int(data.get("version") or 1) >= 2:
            return cls(
                outcome=str(data.get("outcome") or ""),
                runbooks=tuple(RunbookResult.from_dict(r) for r in data.get("runbooks") or ()),
                at=str(data.get("at") or ""),
                source=str(data.get("source") or "event"),
                version=int(data["version"]),
                extra=dict(data.get("extra") or {}),
            )
        # Version 1: triage was the only runbook and its record was the whole decision.
        actions = tuple(dict(a) for a in data.get("actions") or ())
        legacy = RunbookResult(
            runbook="triage" if actions or data.get("rule") or data.get("shadow") else "-",
            outcome=str(data.get("outcome") or ""),
            actions=actions,
            writes=tuple(data.get("writes") or ()),
            writes_sent=int(data.get("writes_sent") or 0),
            resumed=bool(data.get("resumed")),
            shadow=data.get("shadow"),
            unresolved_people=tuple(data.get("unresolved_people") or ()),
        )
        return cls(outcome=legacy.outcome, runbooks=(legacy,), source="event", version=1)


def action_key(action: Mapping[str, Any]) -> str:
    """What an action does, without why or how it went: two runs that do the same thing compare equal."""
    skip = {"rule", "why", "result"}
    parts = [f"{k}={action[k]}" for k in sorted(action) if k not in skip and k != "action"]
    return f"{action.get('action', '?')}({', '.join(parts)})"
