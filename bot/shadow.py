"""Shadow-mode evidence: how often what the bot *would* have done matches what agents then did.

Pure: it compares recorded shadow decisions with the tickets as they are now, field by field (request
type, group, resolving the ticket), and sums agreement per rule. A field the agents have not decided yet
(no request type set, ticket still open) is left out rather than counted as disagreement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Status, Ticket

FIELDS = ("request_type", "group", "resolved")


@dataclass(frozen=True)
class Comparison:
    rule: str
    field: str
    bot: Any
    agents: Any

    @property
    def agree(self) -> bool:
        return bool(self.bot == self.agents)


def compare(shadow: Mapping[str, Any], ticket: Ticket) -> list[Comparison]:
    """The fields of one shadow decision that agents have since decided, bot's choice next to theirs."""
    rule = str(shadow.get("rule") or "-")
    out: list[Comparison] = []
    if ticket.request_type is not None:
        out.append(Comparison(rule, "request_type", shadow.get("request_type_value"), ticket.request_type))
    if ticket.group_id is not None and shadow.get("group_id") is not None:
        out.append(Comparison(rule, "group", shadow.get("group_id"), ticket.group_id))
    if ticket.status in (Status.SOLVED, Status.CLOSED) or shadow.get("resolution"):
        out.append(
            Comparison(
                rule, "resolved", bool(shadow.get("resolution")), ticket.status in (Status.SOLVED, Status.CLOSED)
            )
        )
    return out


@dataclass
class RuleAgreement:
    rule: str
    tickets: int = 0
    compared: dict[str, int] = field(default_factory=dict)
    agreed: dict[str, int] = field(default_factory=dict)

    def rate(self, name: str) -> float | None:
        total = self.compared.get(name, 0)
        return self.agreed.get(name, 0) / total if total else None


def agreement(per_ticket: Iterable[tuple[str, list[Comparison]]]) -> list[RuleAgreement]:
    """Agreement per rule from (rule, comparisons of one ticket) pairs, rules sorted by name."""
    rows: dict[str, RuleAgreement] = {}
    for rule, comparisons in per_ticket:
        row = rows.setdefault(rule, RuleAgreement(rule))
        row.tickets += 1
        for c in comparisons:
            row.compared[c.field] = row.compared.get(c.field, 0) + 1
            row.agreed[c.field] = row.agreed.get(c.field, 0) + int(c.agree)
    return [rows[k] for k in sorted(rows)]


def format_report(rows: list[RuleAgreement]) -> str:
    if not rows:
        return "no shadow decisions in this period (is shadow mode on for a desk or rule?)"
    head = f"{'RULE':<24} {'TICKETS':>7}  " + "  ".join(f"{name.upper():>16}" for name in FIELDS)
    lines = [head]
    for row in rows:
        cells = []
        for name in FIELDS:
            rate = row.rate(name)
            cells.append(
                f"{'-':>16}"
                if rate is None
                else f"{rate:>6.0%} ({row.agreed.get(name, 0)}/{row.compared[name]})".rjust(16)
            )
        lines.append(f"{row.rule:<24} {row.tickets:>7}  " + "  ".join(cells))
    return "\n".join(lines)
