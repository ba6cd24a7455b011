"""Which request type a ticket is: the first matching rule of the policy wins, else the default."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.domain.tickets import Ticket
from bot.policy.schema import DeskOptions, Match, Policy, Rule


@dataclass(frozen=True)
class Classification:
    request_type: str
    rule: Rule | None
    """None when no rule matched and the default applies."""
    why: str

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule else "default"


@lru_cache(maxsize=1024)
def _words(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Keywords or phrases, matched as whole words, case-insensitively ("log in" ≠ "blog index").

    One alternation per list, so a rule costs one pass over the text however many keywords it has.
    """
    alternatives = "|".join(re.escape(k.strip()) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


def _first_keyword(keywords: list[str], text: str) -> str | None:
    """The keyword (as written in the policy) found first in `text`, or None."""
    hit = _words(tuple(keywords)).search(text)
    if hit is None:
        return None
    found = hit.group(0).casefold()
    return next((k for k in keywords if k.strip().casefold() == found), hit.group(0))


def match_reasons(match: Match, ticket: Ticket, options: DeskOptions) -> list[str] | None:
    """Why `match` holds for `ticket` (one reason per condition), or None when any condition fails."""
    subject, description = ticket.subject, ticket.description
    reasons: list[str] = []
    checks: list[tuple[list[str], str, str]] = [
        (match.keywords, f"{subject}\n{description}", "text"),
        (match.subject_keywords, subject, "subject"),
        (match.description_keywords, description, "description"),
    ]
    for keywords, text, where in checks:
        if keywords:
            found = _first_keyword(keywords, text)
            if found is None:
                return None
            reasons.append(f"{where} mentions {found!r}")
    if match.regex:
        hit = _regex(match.regex).search(f"{subject}\n{description}")
        if hit is None:
            return None
        reasons.append(f"text matches /{match.regex}/ ({hit.group(0)[:40]!r})")
    if match.form:
        if ticket.form not in match.form:
            return None
        reasons.append(f"form {ticket.form}")
    if match.request_type:
        picked = next(
            (t for t in match.request_type if ticket.request_type in (t, options.request_type_value(t))), None
        )
        if picked is None:
            return None
        reasons.append(f"customer picked {picked}")
    if match.tags:
        tag = next((t for t in match.tags if t in ticket.tags), None)
        if tag is None:
            return None
        reasons.append(f"tag {tag}")
    if match.channel:
        if ticket.channel not in match.channel:
            return None
        reasons.append(f"channel {ticket.channel}")
    if match.organization:
        ids = {options.organizations.get(name, name) for name in match.organization}
        if ticket.organization_id not in ids:
            return None
        reasons.append(f"organization {ticket.organization_id}")
    return reasons


def classify(ticket: Ticket, policy: Policy) -> Classification:
    """The request type of `ticket`: the first rule whose every condition holds, else `triage.default`."""
    options = policy.desk(ticket.desk)
    for rule in policy.triage.rules:
        reasons = match_reasons(rule.match, ticket, options)
        if reasons is not None:
            return Classification(rule.request_type, rule, "; ".join(reasons))
    default = policy.triage.default.request_type
    return Classification(default, None, "no rule matched")
