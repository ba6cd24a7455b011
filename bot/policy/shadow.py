"""Shadow-mode report: how often agents ended up doing what the bot would have done, per rule.

In shadow mode the bot decides and records but writes nothing. Later, agents have typed, routed and
resolved the same tickets themselves; comparing the two per rule shows which rules are ready to be
switched on (high agreement) and which need work, before the bot touches a real customer's ticket.

Pure: the task layer reads the recorded decisions and the tickets' current state; this module only counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.tickets import Status, Ticket

RESOLVED = (Status.SOLVED, Status.CLOSED)


@dataclass(frozen=True)
class ShadowRecord:
    """What the bot would have done to a ticket, next to the ticket as agents have left it since."""

    rule: str
    request_type: str
    """The desk's value for the request type the bot chose (what the desk stores once an agent picks it)."""
    group_id: str | None
    resolves: bool
    """Whether the bot would have resolved the ticket (phone-only requests)."""
    later: Ticket

    @classmethod
    def from_decision(cls, shadow: Mapping[str, Any], later: Ticket) -> ShadowRecord:
        """From the `shadow` dict the triage task stores (`rule`, `request_type[_value]`, `group_id`, `resolution`)."""
        return cls(
            rule=str(shadow.get("rule") or "default"),
            request_type=str(shadow.get("request_type_value") or shadow.get("request_type") or ""),
            group_id=shadow.get("group_id"),
            resolves=bool(shadow.get("resolution")),
            later=later,
        )


@dataclass
class Tally:
    """Agreement on one facet; `pending` counts tickets where agents have not decided it yet."""

    agree: int = 0
    disagree: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        return self.agree + self.disagree

    @property
    def percent(self) -> float | None:
        return 100.0 * self.agree / self.decided if self.decided else None

    def add(self, outcome: bool | None) -> None:
        if outcome is None:
            self.pending += 1
        elif outcome:
            self.agree += 1
        else:
            self.disagree += 1

    def cell(self) -> str:
        if not self.decided:
            return "-"
        return f"{self.agree}/{self.decided} {self.percent:.0f}%"


@dataclass
class RuleAgreement:
    rule: str
    tickets: int = 0
    request_type: Tally = field(default_factory=Tally)
    group: Tally = field(default_factory=Tally)
    resolution: Tally = field(default_factory=Tally)

    def add(self, record: ShadowRecord) -> None:
        self.tickets += 1
        self.request_type.add(_same_request_type(record))
        self.group.add(_same_group(record))
        self.resolution.add(_same_resolution(record))


def _same_request_type(record: ShadowRecord) -> bool | None:
    chosen = record.later.request_type
    return None if not chosen or not record.request_type else chosen == record.request_type


def _same_group(record: ShadowRecord) -> bool | None:
    chosen = record.later.group_id
    return None if not chosen or not record.group_id else chosen == record.group_id


def _same_resolution(record: ShadowRecord) -> bool | None:
    """Resolving is judged once agents have moved the ticket on: resolved or not, as the bot would have."""
    status = record.later.status
    if status in (Status.NEW, Status.OPEN) and not record.resolves:
        return None  # still being worked on, and the bot would not have resolved it either: nothing to judge
    if status in (Status.NEW, Status.OPEN):
        return False  # the bot would have closed it at once; agents are still on it
    if not record.resolves and status not in RESOLVED:
        return None  # waiting on the customer or on hold: the bot had no opinion
    return (status in RESOLVED) == record.resolves


def agreement(records: Iterable[ShadowRecord]) -> list[RuleAgreement]:
    """One row per rule (in order of first appearance), then a total row named "all"."""
    rows: dict[str, RuleAgreement] = {}
    total = RuleAgreement("all")
    for record in records:
        rows.setdefault(record.rule, RuleAgreement(record.rule)).add(record)
        total.add(record)
    return [*rows.values(), total] if rows else []


def format_report(rows: list[RuleAgreement]) -> str:
    """A plain-text table: agreed/decided and percentage per facet; "-" where agents have not decided yet."""
    if not rows:
        return "No shadow decisions recorded yet."
    header = ("rule", "tickets", "request type", "group", "resolved")
    table = [header] + [
        (r.rule, str(r.tickets), r.request_type.cell(), r.group.cell(), r.resolution.cell()) for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for index, line in enumerate(table):
        cells = [line[0].ljust(widths[0]), line[1].rjust(widths[1])] + [
            cell.ljust(width) for cell, width in zip(line[2:], widths[2:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0 or (index == len(table) - 2 and len(table) > 2):
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
