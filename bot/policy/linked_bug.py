"""The linked dev bug runbook: a ticket support cannot fix becomes a bug in the dev project.

Started by an agent's tag/label `helpdesk-bot-bug`, by `helpdesk-bot escalate-bug TICKET`, or at creation by
a `bugs.auto` rule. The bug (on the Jira desk, for Zendesk and JSM tickets alike) carries the summary, the
steps to reproduce found in the customer's own words, expected/actual where the customer said them, the
environment fields the policy names, and a link back to the ticket; a comment on it mentions the product
manager of the product the ticket is about. The ticket gets an internal note with the bug's key and URL.
Exactly one bug per ticket: the executor looks the bug up by the ticket's label before creating one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain.actions import Action, CreateLinkedBug, Tag
from bot.domain.events import EventKind
from bot.domain.tickets import Role, Ticket
from bot.policy.classify import match_reasons
from bot.policy.runbook import Situation, Verdict

BUG_TAG = "helpdesk-bot-bug"
"""Agents add it to ask for a bug."""
LINKED_TAG = "helpdesk-bot-bug-linked"
"""The bot adds it once the bug exists, so later updates of the ticket do not ask again."""

STEP = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•]|step\s+\d{1,2}\s*[:.)-])\s+(?P<text>\S.*)$", re.IGNORECASE)
EXPECTED = re.compile(
    r"^\s*(?:expected(?:\s+(?:result|behaviou?r))?|i expected)\s*[:\-\u2013]?\s*(?P<text>\S.*)$", re.I
)
ACTUAL = re.compile(r"^\s*(?:actual(?:\s+(?:result|behaviou?r))?|instead|but)\s*[:\-\u2013]\s*(?P<text>\S.*)$", re.I)


def customer_texts(ticket: Ticket) -> list[str]:
    """The description, then the customer's own public replies, oldest first."""
    replies = sorted(
        (c for c in ticket.comments if c.public and c.author.role is Role.CUSTOMER), key=lambda c: c.created_at
    )
    return [ticket.description, *(c.body for c in replies if c.body != ticket.description)]


def steps_to_reproduce(texts: Iterable[str]) -> list[str]:
    """Numbered or bulleted lines the customer wrote (two or more make a list of steps), in order."""
    steps = [m.group("text").strip() for text in texts for line in text.splitlines() if (m := STEP.match(line))]
    return list(dict.fromkeys(steps)) if len(steps) >= 2 else []


def _first(pattern: re.Pattern[str], texts: Iterable[str]) -> str | None:
    return next((m.group("text").strip() for t in texts for line in t.splitlines() if (m := pattern.match(line))), None)


def bug_description(ticket: Ticket, environment: dict[str, str]) -> str:
    """Plain text with sections; the Jira adapter renders it as ADF on Cloud and as wiki text on Data Center."""
    texts = customer_texts(ticket)
    steps = steps_to_reproduce(texts)
    parts = ["Steps to reproduce"]
    parts += [f"{n}. {step}" for n, step in enumerate(steps, 1)] if steps else [ticket.description.strip() or "-"]
    expected, actual = _first(EXPECTED, texts), _first(ACTUAL, texts)
    if expected or actual:
        parts += ["", "Expected / actual", f"Expected: {expected or 'not stated'}", f"Actual: {actual or 'not stated'}"]
    if environment:
        parts += ["", "Environment", *(f"{label}: {value}" for label, value in environment.items())]
    where = f"{ticket.desk.title()} ticket {ticket.id}"
    parts += ["", "Support ticket", f"{where}: {ticket.url}" if ticket.url else where]
    return "\n".join(parts)


def product_manager(ticket: Ticket, managers: dict[str, str], default: str | None) -> tuple[str | None, str]:
    """(PM email, why): the first product whose name is a tag of the ticket or a word of its subject."""
    words = set(re.findall(r"[\w-]+", ticket.subject.lower()))
    tags = {t.lower() for t in ticket.tags}
    for product, email in managers.items():
        if product.lower() in tags or product.lower() in words:
            return email, f"product {product}"
    return default, "no product matched: the default product manager" if default else "no product manager known"


def decide(s: Situation) -> Verdict:
    bugs, ticket = s.policy.bugs, s.ticket
    project = bugs.project or getattr(s.policy.desk("jira"), "dev_project", None)
    if not bugs.enabled:
        return Verdict("linked bugs are disabled in the policy")
    if ticket.desk == "jira" and ticket.project == project:
        return Verdict("a dev project issue itself")
    forced = bool(s.facts.get("forced"))
    if LINKED_TAG in ticket.tags and not s.replaying:
        return Verdict(f"already has a bug (tag {LINKED_TAG})")
    why = _trigger(s, forced)
    if why is None:
        return Verdict("no bug asked for")
    if not project:
        return Verdict("no dev project: set bugs.project or desks.jira.dev_project")
    environment = {
        label: str(ticket.custom_fields[field])
        for label, field in bugs.environment_fields.items()
        if ticket.custom_fields.get(field) not in (None, "")
    }
    pm, pm_why = product_manager(ticket, dict(bugs.product_managers), bugs.default_product_manager)
    who = ticket.requester.name or ticket.requester.email or "the customer"
    comment = f"Reported by {who} on {ticket.desk.title()} ticket {ticket.id}; please triage ({pm_why})."
    actions: list[Action] = [
        CreateLinkedBug(
            rule="linked-bug",
            why=why,
            desk="jira",
            project=project,
            summary=f"{ticket.subject} [{ticket.desk.title()} {ticket.id}]"[:250],
            description=bug_description(ticket, environment),
            issue_type=bugs.issue_type,
            mention_email=pm,
            comment=comment,
            note="Bug filed in the dev project:",
        ),
        Tag(rule="linked-bug", why="the ticket has its bug", add=(LINKED_TAG,)),
    ]
    return Verdict(f"bug filed in {project}", tuple(actions))


def _trigger(s: Situation, forced: bool) -> str | None:
    if forced:
        return "asked for with helpdesk-bot escalate-bug"
    if BUG_TAG in s.ticket.tags:
        return f"an agent tagged the ticket {BUG_TAG}"
    if s.event is not None and s.event.kind is EventKind.TICKET_CREATED:
        options = s.policy.desk(s.ticket.desk)
        for index, match in enumerate(s.policy.bugs.auto):
            reasons = match_reasons(match, s.ticket, options)
            if reasons is not None:
                return f"bugs.auto[{index}]: " + "; ".join(reasons)
    return None
