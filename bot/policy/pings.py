"""The ping runbook ("How to ping a ticket"): open tickets get regular SLA updates, quiet pending ones a prompt.

Cadence, in the customer's business calendar (`bot/policy/calendar.py`):
- an open ticket without a public update from support for `pings.open_every_hours` business hours is due an
  SLA update (where we are, the SLA boundary, the last three events, one to three next steps);
- a pending ticket without activity for `pings.pending_after_days` business days is due a prompt (what the
  customer must do, and that we are blocked until they do) — unless the follow-up ladder chases it
  (`bot/policy/followup.py`: follow-up on and the ticket not exempt), so a customer never gets both.

Per group / request type the mode is `post` (the bot posts the templated text) or `draft` (an internal note
prepares it for the assignee, with the SLA status, the events, next steps, the customer's mood with its
inputs, and a suggestion to raise the priority or add a CC when the mood falls or the ticket was reopened).

Each ping carries a tag naming its due slot (`helpdesk-bot-ping-<UTC due time>`): a sweep that finds the
tag of the slot that is due does nothing, so no ticket is pinged twice for one due time, whichever worker
or overlapping sweep gets there. A draft does not move the clock (the customer saw nothing), so the next
slot starts from the last one: a fresh draft every `open_every_hours` while support stays silent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.actions import Comment, Tag
from bot.domain.tickets import Comment as TicketComment
from bot.domain.tickets import Role, SlaMetric, Status, Ticket, TicketQuery, Visibility
from bot.policy.calendar import BusinessCalendar, calendar_for
from bot.policy.followup import chases
from bot.policy.mood import Mood, mood
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import PingMode, Policy
from bot.policy.spread import sends_at
from bot.policy.templates import render

RULE = "ping"
TAG_PREFIX = "helpdesk-bot-ping-"
OPEN = (Status.NEW, Status.OPEN)
MAX_SLOTS = 1000
"""Slots already pinged that are skipped before giving up: far more than any ticket's tags."""
_QUESTION = re.compile(r"[^.!?\n]*\?")


@dataclass(frozen=True)
class Due:
    """The ping a ticket is due: `kind` is "update" (open) or "prompt" (pending), `at` its due time."""

    kind: str
    at: datetime

    @property
    def tag(self) -> str:
        return slot_tag(self.at)


def slot_tag(at: datetime) -> str:
    """The tag that marks the ping of the slot due at `at` as done."""
    return TAG_PREFIX + at.astimezone(UTC).strftime("%Y%m%dt%H%M")


def select(policy: Policy, desk: str, now: datetime) -> TicketQuery | None:
    """Open and pending tickets, when pings are on. Not filtered by update time: a customer's comment updates
    a ticket without being an update from support."""
    return TicketQuery(statuses=(*OPEN, Status.PENDING)) if policy.pings.enabled else None


def due(ticket: Ticket, policy: Policy, calendar: BusinessCalendar) -> Due | None:
    """The next ping slot of `ticket` not pinged yet (None when it is neither open nor pending)."""
    settings = policy.pings
    if ticket.status in OPEN:
        kind, start = "update", _last_support_update(ticket)

        def step(t: datetime) -> datetime:
            return calendar.add_business_hours(t, settings.open_every_hours)
    elif ticket.status is Status.PENDING:
        kind, start = "prompt", _last_activity(ticket)

        def step(t: datetime) -> datetime:
            return calendar.add_business_days(t, settings.pending_after_days)
    else:
        return None
    at = step(start)
    tags = set(ticket.tags)
    for _ in range(MAX_SLOTS):
        if slot_tag(at) not in tags:
            return Due(kind, at)
        at = step(at)
    raise AssertionError(f"{MAX_SLOTS} ping slots already marked on ticket {ticket.id}")


def mode_for(ticket: Ticket, policy: Policy, desk: str) -> PingMode:
    """The request type's mode, else the group's, else `pings.mode`."""
    settings = policy.pings
    if ticket.request_type is not None:
        names = {v: k for k, v in policy.desk(desk).request_types.items()}
        request_type = names.get(ticket.request_type, ticket.request_type)
        if request_type in settings.request_types:
            return settings.request_types[request_type]
    if ticket.group_id is not None:
        groups = {v: k for k, v in policy.desk(desk).groups.items()}
        group = groups.get(ticket.group_id, ticket.group_id)
        if group in settings.groups:
            return settings.groups[group]
    return settings.mode


def needs_sla(situation: Situation) -> bool:
    """Whether the decision will write a draft, the only text that shows the desk's SLA clocks (so a sweep
    reads them only for the tickets that need them)."""
    s = situation
    if chases(s.policy, s.desk, s.ticket):
        return False
    ping = due(s.ticket, s.policy, _calendar(s))
    return ping is not None and s.now >= ping.at and mode_for(s.ticket, s.policy, s.desk) == "draft"


def decide(s: Situation) -> Verdict:
    if chases(s.policy, s.desk, s.ticket):
        return Verdict("pending: the follow-up ladder contacts the customer (no prompt beside its strikes)")
    calendar = _calendar(s)
    ping = due(s.ticket, s.policy, calendar)
    if ping is None:
        return Verdict("not open or pending")
    mode = mode_for(s.ticket, s.policy, s.desk)
    send = _posts_at(s, calendar, ping) if mode == "post" else ping.at
    if s.now < send:
        slot = (
            "" if send == ping.at else f"; posted at the ticket's slot of the customer's day, {_when(send, calendar)}"
        )
        return Verdict(f"next {ping.kind} due {_when(ping.at)}{slot}", due=send)
    values = texts(s, ping, calendar)
    public = render(f"ping_{ping.kind}", s.policy.templates, values)
    mark = Tag(rule=RULE, why=f"the {ping.kind} due {_when(ping.at)} is done", add=(ping.tag,))
    why = _why(ping, s.policy)
    if mode == "post":
        post = Comment(rule=RULE, why=why, body=public, visibility=Visibility.PUBLIC, template=f"ping_{ping.kind}")
        return Verdict(f"{ping.kind} posted", (post, mark))
    note = render("ping_draft", s.policy.templates, {**values, "prepared": public})
    draft = Comment(rule=RULE, why=why, body=note, visibility=Visibility.INTERNAL, template="ping_draft")
    return Verdict(f"{ping.kind} drafted", (draft, mark))


def _posts_at(s: Situation, calendar: BusinessCalendar, ping: Due) -> datetime:
    """When a ping the customer sees goes out: with `sweeps.spread`, at the ticket's slot of the customer's
    business day or later (`bot/policy/spread.py`), so a night's or a weekend's backlog is not posted at once;
    without it, as soon as it is due. A draft is for the assignee and is written when due."""
    if not s.policy.sweeps.spread:
        return ping.at
    return sends_at(s.policy, s.desk, s.ticket.id, calendar, max(s.now, ping.at))


def texts(s: Situation, ping: Due, calendar: BusinessCalendar) -> dict[str, Any]:
    """Every variable of the ping templates (see `SAMPLE_VALUES` in `bot/policy/templates`)."""
    ticket = s.ticket
    feeling = mood(_customer_texts(ticket)[-3:])
    return {
        "customer_name": ticket.requester.name.split()[0] if ticket.requester.name else "there",
        "ticket_id": ticket.id,
        "ticket_url": ticket.url,
        "kind": ping.kind,
        "due": _when(ping.at),
        "sla": sla_status(s, calendar),
        "events": last_events(ticket),
        "public_events": last_events(ticket, public_only=True),
        "next_steps": next_steps(ticket, ping.kind),
        "mood": feeling.label(),
        "mood_inputs": [f"{m.compound:+.2f} “{m.excerpt}”" for m in feeling.inputs],
        "suggestions": suggestions(ticket, feeling, s.policy),
        "next_update": _when(calendar.add_business_hours(s.now, s.policy.pings.open_every_hours)),
    }


def sla_status(s: Situation, calendar: BusinessCalendar) -> list[str]:
    """Each SLA clock with the time left to its boundary as of `now`: the desk's own (JSM, gathered into
    `facts["sla"]`), else the policy's target for the ticket's priority (Zendesk)."""
    metrics = sla_clocks(s, calendar)
    lines = []
    for metric in metrics:
        if metric.breach_at is None:
            lines.append(f"{metric.name}: no boundary")
        elif not metric.running:
            met = "missed" if metric.breached else "met"
            lines.append(f"{metric.name}: {met} (boundary {_when(metric.breach_at)})")
        else:
            left = metric.breach_at - s.now
            state = f"{_span(left)} left" if left > timedelta(0) else f"breached {_span(-left)} ago"
            lines.append(f"{metric.name}: {state} (boundary {_when(metric.breach_at)})")
    return lines


def sla_clocks(s: Situation, calendar: BusinessCalendar) -> Sequence[SlaMetric]:
    """The ticket's SLA clocks: the desk's own (JSM, gathered into `facts["sla"]`), else one "next reply" clock
    from the policy's target for the ticket's priority (`pings.sla_hours`), counted in business hours from
    support's last public update (Zendesk)."""
    metrics: Sequence[SlaMetric] | None = s.facts.get("sla")
    if metrics is not None:
        return metrics
    hours = s.policy.pings.sla_hours
    target = hours.get(s.ticket.priority or "normal", hours["normal"])
    boundary = calendar.add_business_hours(_last_support_update(s.ticket), target)
    return [SlaMetric(f"next reply ({target:g} business hours)", boundary, s.now >= boundary, True)]


def last_events(ticket: Ticket, *, public_only: bool = False, count: int = 3) -> list[str]:
    """The latest `count` comments and status changes, oldest first, one line each. The ticket's opening counts
    as an event where no comment carries it (a JSM request's description is a field, a Zendesk ticket's the
    first comment)."""
    events: list[tuple[datetime, str]] = []
    if not any(_opens(ticket, c) for c in ticket.comments):
        opened = f"{_who(ticket.requester.role)} opened the ticket: “{_excerpt(ticket.subject)}”"
        events.append((ticket.created_at, f"{_when(ticket.created_at)}: {opened}"))
    for c in ticket.comments:
        if public_only and not c.public:
            continue
        what = "replied" if c.public else "added an internal note"
        events.append((c.created_at, f"{_when(c.created_at)}: {_who(c.author.role)} {what}: “{_excerpt(c.body)}”"))
    if not public_only:
        for change in ticket.status_changes:
            by = f" by {_who(change.by)}" if change.by else ""
            events.append((change.at, f"{_when(change.at)}: status set to {change.status.value}{by}"))
    events.sort(key=lambda e: e[0])
    return [line for _, line in events[-count:]]


OPENING_SLACK = timedelta(seconds=5)
"""A comment with the description's text this close to the ticket's creation is its opening."""


def _opens(ticket: Ticket, comment: TicketComment) -> bool:
    same_text = comment.body.strip() == ticket.description.strip()
    return same_text and abs(comment.created_at - ticket.created_at) <= OPENING_SLACK


def next_steps(ticket: Ticket, kind: str) -> list[str]:
    """One to three steps: the customer's open questions (asked after support last wrote in public) to
    answer; on a prompt, the questions support asked and still waits on."""
    if kind == "prompt":
        asked = [c for c in ticket.comments if c.public and c.author.role is not Role.CUSTOMER]
        questions = _questions(asked[-1].body) if asked else []
        steps = [f"Answer our question: “{q}”" for q in questions[:3]]
        return steps or ["Reply to our last message so we can continue"]
    support = [i for i, c in enumerate(ticket.comments) if c.public and c.author.role is not Role.CUSTOMER]
    since = ticket.comments[support[-1] + 1 :] if support else ticket.comments  # the desk's order, not clock
    unanswered = [c for c in since if c.public and c.author.role is Role.CUSTOMER]
    open_questions = [q for c in unanswered for q in _questions(c.body)]
    steps = [f"Answer: “{q}”" for q in open_questions[:3]]
    return steps or ["Tell the customer what we are doing now and when they will hear from us next"]


def suggestions(ticket: Ticket, feeling: Mood, policy: Policy) -> list[str]:
    """Raise the priority / add someone in CC when the customer's mood falls or the ticket was reopened."""
    reasons = []
    if feeling.falling(policy.pings.mood_drop):
        reasons.append(f"the customer's mood fell by {-feeling.change:.2f}")
    if reopened(ticket):
        reasons.append("the ticket was reopened")
    if not reasons:
        return []
    because = " and ".join(reasons)
    return [
        f"Raise the priority (now {ticket.priority or 'not set'}): {because}",
        f"Add a team lead or account manager in CC: {because}",
    ]


def reopened(ticket: Ticket) -> bool:
    done = (Status.SOLVED, Status.CLOSED)
    return any(c.previous in done and c.status not in done for c in ticket.status_changes)


def _why(ping: Due, policy: Policy) -> str:
    settings = policy.pings
    if ping.kind == "update":
        return f"no public update from support for {settings.open_every_hours:g} business hours"
    return f"pending without activity for {settings.pending_after_days} business days"


def _calendar(s: Situation) -> BusinessCalendar:
    return calendar_for(s.policy, s.desk, s.ticket.organization_id)


def _last_support_update(ticket: Ticket) -> datetime:
    """When support (an agent or the bot) last wrote in public; the ticket's creation when it never did."""
    public = [c.created_at for c in ticket.comments if c.public and c.author.role is not Role.CUSTOMER]
    return max(public, default=ticket.created_at)


def _last_activity(ticket: Ticket) -> datetime:
    """The latest public comment or status change: what a pending ticket's quiet is counted from."""
    times = [c.created_at for c in ticket.comments if c.public] + [c.at for c in ticket.status_changes]
    return max(times, default=ticket.created_at)


def _customer_texts(ticket: Ticket) -> list[str]:
    """What the customer wrote in public, oldest first, the request's description included (Zendesk lists it
    as the first comment, JSM does not)."""
    own = sorted(
        (c for c in ticket.comments if c.public and c.author.role is Role.CUSTOMER), key=lambda c: c.created_at
    )
    texts = [c.body for c in own]
    described = " ".join(ticket.description.split())
    if described and not any(" ".join(t.split()) == described for t in texts):
        texts.insert(0, ticket.description)
    return texts


def _questions(text: str) -> list[str]:
    return [" ".join(q.split()) for q in _QUESTION.findall(text) if len(q.split()) > 1]


def _who(role: Role | None) -> str:
    names = {Role.CUSTOMER: "customer", Role.AGENT: "agent", Role.BOT: "helpdesk-bot"}
    return names[role] if role else "someone"


def _excerpt(text: str, size: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


def _when(t: datetime, calendar: BusinessCalendar | None = None) -> str:
    """ "Mon 30 Nov 15:00 UTC"; on the `calendar`'s wall clock when one is given."""
    shown = calendar.local(t) if calendar is not None else t
    return shown.strftime("%a %d %b %H:%M %Z").replace("  ", " ")


def _span(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)}d {minutes % (24 * 60) // 60}h"
    return f"{minutes // 60}h {minutes % 60:02d}m"
