"""Follow-up and auto-resolve: the three-strikes ladder, the quick inactivity rule, out-of-office holds and the
reopen window, as pure decisions over one ticket snapshot.

The ladder keeps no state of its own: it reads the ticket. Tags say what an agent sees at a glance
(`helpdesk-bot-strike-N`, `helpdesk-bot-on-hold`, `closure-user-not-responded`); each step also leaves an
note ending in a marker such as `[helpdesk-bot follow-up: strike-2 as of 2026-03-03T10:00:00+01:00]`: an
internal comment, or, on a desk that keeps a follow-up field (`desks.<desk>.followup_field`, with
`followup.step_notes: field`), the field itself, written in the same update as the customer's message.
The marker carries the instant the step was *decided* as of, which is what the next step counts business days
from: a sweep run late, or `helpdesk-bot sweep --at` deciding as of another instant, then still spaces the
strikes one business day apart. Only steps after the customer's last public comment count, so a reply
restarts the ladder even when the tags could not be cleared.

Due times are in the customer's calendar (`calendar_for`: the organization's own, else the main one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from bot.domain.actions import Action, Comment, PostChat, RecordStep, Resolve, SetStatus, Tag
from bot.domain.tickets import Comment as TicketComment
from bot.domain.tickets import Role, Status, Ticket, TicketQuery, Visibility
from bot.policy.calendar import BusinessCalendar, calendar_for
from bot.policy.followup_state import ON_HOLD_TAG, PAUSE_TAG, STOP_TAG, STRIKE_TAG, STRIKE_TAGS
from bot.policy.linked_bug import LINKED_TAG
from bot.policy.replies import ReplyClass, ReplyKind, asks_for_confirmation, classify_reply
from bot.policy.runbook import Situation, Verdict
from bot.policy.spread import sends_at
from bot.policy.templates import SAMPLE_VALUES, render

if TYPE_CHECKING:
    from bot.policy.schema import Ladder, Policy

CLOSURE_TAG = "closure-user-not-responded"
RULE = "followup"
MARKER = re.compile(
    r"\[helpdesk-bot follow-up: (?P<step>[a-z0-9-]+) as of (?P<at>\S+?)"
    r"(?: until (?P<until>\S+?))?(?: reply (?P<reply>\S+?))?(?: after (?P<after>\S+?))?"
    r"(?: greet (?P<greet>\S+?))?(?: agent (?P<agent>\S+?))?\]"
)
NO_REPLY = "-"
"""A field marker's `after` when the customer has not written on the ticket at all."""
LAST_REPLY = "last_reply"
"""Fact: the id of the customer's last public comment (or `NO_REPLY`) when the ticket's comments were not read
(a search result): the field's own marker says it."""
KEPT_NAMES = "kept_names"
"""Fact: (the customer's greeting, (assignee id, the agent's name)) as the field's marker keeps them, for a step
decided on a search result (no comments, the requester by id only): its texts read as the full decision's."""
DEFAULT_LADDER = "three_strikes"


@dataclass(frozen=True)
class Step:
    """One follow-up step the bot documented on the ticket (parsed back from its note's marker)."""

    name: str
    at: datetime
    until: datetime | None = None
    reply: str | None = None
    after: str | None = None
    """In the follow-up field's copy: the customer's last public comment when the step was taken (`NO_REPLY`:
    none), which tells whether the step still counts (a reply since then restarts the ladder)."""
    greet: str | None = None
    """In the field's copy: the name the step's message greeted the customer by."""
    agent: tuple[str, str] | None = None
    """In the field's copy: (assignee id, name) of the agent the step's message spoke for."""


@dataclass(frozen=True)
class Standing:
    """Where a ticket stands in follow-up: what `helpdesk-bot status` prints and the ladder acts on."""

    waiting_on: str
    """customer, support, or nobody (solved/closed)."""
    since: datetime | None
    ladder: str
    strikes: int
    next_action: str | None
    """strike-N, resolve, quick-resolve, reactivate, close; None when nothing is due."""
    next_at: datetime | None
    blocked: str | None = None
    """Why the ladder does not run: paused, stopped, exempt (...)."""
    on_hold_until: datetime | None = None
    zone: str = "UTC"
    detail: str = ""
    """What the next action rests on (the confirmation request, the attempts counted, the dev bug)."""


# --- reading the ticket ------------------------------------------------------------------------------------


def marker(
    step: str,
    at: datetime,
    *,
    until: datetime | None = None,
    reply: str | None = None,
    after: str | None = None,
    greet: str | None = None,
    agent: tuple[str, str] | None = None,
) -> str:
    out = f"[helpdesk-bot follow-up: {step} as of {at.isoformat()}"
    if until is not None:
        out += f" until {until.isoformat()}"
    if reply is not None:
        out += f" reply {reply}"
    if after is not None:
        out += f" after {after}"
    if greet:
        out += f" greet {quote(greet, safe='')}"
    if agent is not None:
        out += f" agent {quote(agent[0], safe='')}={quote(agent[1], safe='')}"
    return out + "]"


def _step(m: re.Match[str]) -> Step:
    until = datetime.fromisoformat(m["until"]) if m["until"] else None
    agent = None
    if m["agent"] and "=" in m["agent"]:
        assignee, name = m["agent"].split("=", 1)
        agent = (unquote(assignee), unquote(name))
    greet = unquote(m["greet"]) if m["greet"] else None
    return Step(m["step"], datetime.fromisoformat(m["at"]), until, m["reply"], m["after"], greet, agent)


def greeting_kept(ticket: Ticket) -> bool:
    """Whether the follow-up field keeps the name the ladder greets this customer by: a step decided on the search
    result then needs no look-up of the requester (search results name them by id only)."""
    kept = field_step(ticket)
    return kept is not None and kept.greet is not None


def ordered(ticket: Ticket) -> list[TicketComment]:
    """Comments oldest first (desks list them so; the sort keeps their order for equal times)."""
    return sorted(ticket.comments, key=lambda c: c.created_at)


def steps_in(comments: Sequence[TicketComment]) -> list[Step]:
    out: list[Step] = []
    for comment in comments:
        if comment.public or comment.author.role is not Role.BOT:
            continue
        out.extend(_step(m) for m in MARKER.finditer(comment.body))
    return out


def field_step(ticket: Ticket) -> Step | None:
    """The step the desk's follow-up field holds (its last line's marker), None when it holds none."""
    found = list(MARKER.finditer(ticket.followup_state or ""))
    return _step(found[-1]) if found else None


def field_note(ticket: Ticket) -> str:
    """The step's note for agents as the follow-up field holds it (empty when the note is a comment)."""
    found = list(MARKER.finditer(ticket.followup_state or ""))
    return (ticket.followup_state or "")[: found[-1].start()].strip() if found else ""


def last_reply_id(ticket: Ticket) -> str:
    last = last_customer_comment(ticket)
    return last.id if last is not None else NO_REPLY


def current_steps(ticket: Ticket, after: Sequence[TicketComment]) -> list[Step]:
    """The steps taken since the customer's last public comment (`after`: the comments since): the notes' markers,
    then the follow-up field's step when it was taken after that same comment. With step notes kept in the
    field, the field is the only record of the latest step; its `after` is what places it in the thread (the
    instant a step was decided as of may be another than the instant it was written, `sweep --at`)."""
    steps = steps_in(after)
    kept = field_step(ticket)
    if kept is None or kept.after is None or kept.after != last_reply_id(ticket):
        return steps
    if any((s.name, s.at) == (kept.name, kept.at) for s in steps):
        return steps  # the note is a comment too
    return [*steps, kept]


def last_customer_comment(ticket: Ticket) -> TicketComment | None:
    public = [c for c in ordered(ticket) if c.public and c.author.role is Role.CUSTOMER]
    return public[-1] if public else None


def since_last_reply(ticket: Ticket) -> list[TicketComment]:
    """The comments after the customer's last public comment (all of them when the customer never wrote)."""
    comments = ordered(ticket)
    last = last_customer_comment(ticket)
    if last is None:
        return comments
    index = next(i for i, c in enumerate(comments) if c.id == last.id)
    return comments[index + 1 :]


def handled(ticket: Ticket, comment_id: str) -> bool:
    """Whether the bot already answered the customer's comment `comment_id` (a note names it)."""
    kept = field_step(ticket)
    return any(step.reply == comment_id for step in (*steps_in(ordered(ticket)), *([kept] if kept else [])))


def strike_tags(ticket: Ticket) -> tuple[str, ...]:
    return tuple(t for t in ticket.tags if t in STRIKE_TAGS)


def _names(mapping: Mapping[Any, str], value: str | None) -> set[str]:
    """The policy names whose desk id is `value` (and the value itself, which may be used raw)."""
    return {str(name) for name, desk_id in mapping.items() if desk_id == value} | ({value} if value else set())


def _request_type(policy: Policy, desk: str, ticket: Ticket) -> set[str]:
    return _names(policy.desk(desk).request_types, ticket.request_type)


def exemption(policy: Policy, desk: str, ticket: Ticket) -> str | None:
    """Why the ticket is never followed up nor auto-resolved, None when it is not exempt."""
    exempt = policy.followup.exempt
    options = policy.desk(desk)
    checks: tuple[tuple[str, set[str]], ...] = (
        ("request type", {str(r) for r in exempt.request_types} & _request_type(policy, desk, ticket)),
        ("tag", set(exempt.tags) & set(ticket.tags)),
        ("organization", set(exempt.organizations) & _names(options.organizations, ticket.organization_id)),
    )
    for what, found in checks:
        if found:
            return f"{what} {sorted(found)[0]}"
    if ticket.priority and ticket.priority.lower() in {p.lower() for p in exempt.priorities}:
        return f"priority {ticket.priority}"
    return None


def ladder_for(policy: Policy, desk: str, ticket: Ticket) -> Ladder | None:
    """The first ladder of the policy whose match holds; None means the default three strikes."""
    options = policy.desk(desk)
    for ladder in policy.followup.ladders:
        m = ladder.match
        if m.desks and desk not in m.desks:
            continue
        if m.groups and not set(m.groups) & _names(options.groups, ticket.group_id):
            continue
        if m.request_types and not {str(r) for r in m.request_types} & _request_type(policy, desk, ticket):
            continue
        if m.organizations and not set(m.organizations) & _names(options.organizations, ticket.organization_id):
            continue
        if m.tags and not set(m.tags) & set(ticket.tags):
            continue
        return ladder
    return None


def _clock(policy: Policy) -> time:
    hours, minutes = policy.followup.hour.split(":")
    return time(int(hours), int(minutes))


def standing(ticket: Ticket, policy: Policy, desk: str, bug: Ticket | None = None) -> Standing:
    """Where `ticket` stands: whose move it is, strikes sent, what the bot does next and when (pure).

    `bug` is the ticket's linked dev bug when the caller looked it up (see `LINKED_BUG`): a waiting ticket whose
    only open item is an active low-priority bug is resolved by the closing rules.
    """
    cal = calendar_for(policy, desk, ticket.organization_id)
    zone = str(cal.zone)
    ladder = ladder_for(policy, desk, ticket)
    kind = ladder.kind if ladder else DEFAULT_LADDER
    name = ladder.name if ladder else DEFAULT_LADDER
    after = since_last_reply(ticket)
    steps = current_steps(ticket, after)
    base = Standing("support", None, name, 0, None, None, zone=zone)
    if ticket.status is Status.CLOSED:
        return Standing("nobody (closed)", None, name, 0, None, None, zone=zone)
    if ticket.status is Status.SOLVED:
        kept = field_step(ticket)
        every = [*steps_in(ordered(ticket)), *([kept] if kept else [])]
        resolved = [s.at for s in every if s.name in RESOLVED_STEPS]
        at = max(resolved, default=ticket.updated_at)
        closes = at + timedelta(days=policy.followup.reopen_days) if desk == "jira" else None
        return Standing("nobody (solved)", at, name, 0, "close" if closes else None, closes, zone=zone)
    support = [c for c in after if c.public and c.author.role is not Role.CUSTOMER]
    last_public = next((c for c in reversed(ordered(ticket)) if c.public), None)
    auto_reply = any(step.name == "hold" for step in steps)  # the customer's last comment was an out-of-office
    customer_spoke_last = last_public is not None and last_public.author.role is Role.CUSTOMER and not auto_reply
    blocked = blocked_by(policy, desk, ticket)
    low_bug = _low_priority_bug(policy, bug)
    if low_bug and ticket.status in (Status.PENDING, Status.ON_HOLD) and not customer_spoke_last:
        since = _waiting_since(ticket, support)
        out = Standing(f"development ({low_bug})", since, name, 0, None, None, blocked, zone=zone)
        return out if blocked else _with(out, "resolve-dev-bug", since, detail=f"only {low_bug} remains")
    waiting = ticket.status is Status.PENDING or (ticket.status is Status.ON_HOLD and ON_HOLD_TAG in ticket.tags)
    if not waiting or customer_spoke_last:
        return base
    since = _waiting_since(ticket, support, steps)
    strikes = max((int(s.name.rsplit("-", 1)[1]) for s in steps if s.name.startswith("strike-")), default=0)
    out = Standing("customer", since, name, strikes, None, None, blocked, zone=zone)
    if blocked:
        return out
    if ticket.status is Status.ON_HOLD:
        holds = [s for s in steps if s.name == "hold" and s.until is not None]
        until = holds[-1].until if holds and holds[-1].until else cal.business_day_at(since, 1, _clock(policy))
        return _with(out, "reactivate", until, on_hold_until=until)
    hour = _clock(policy)
    asked = _confirmation_request(support)
    days = policy.followup.closing.confirmation_days
    if asked is not None and days:
        at = cal.add_business_days(max(asked[0].created_at, since), days)
        return _with(out, "resolve-unconfirmed", at, detail=f"asked to confirm ({asked[1]})")
    anchor = steps[-1].at if steps else since
    if steps and steps[-1].name == "reactivated":
        first = {DEFAULT_LADDER: "strike-1", "quick": "quick-resolve"}.get(kind)
        if first is not None:
            return _with(out, first, anchor)
    if kind == "quick":
        return _with(out, "quick-resolve", cal.add_business_days(anchor, policy.followup.quick_days))
    if kind == "closing_rules":
        needed = policy.followup.closing.ignored_attempts
        tried = attempts(support, since)
        detail = f"{len(tried)} of {needed} contact attempts unanswered"
        if len(tried) < needed:
            return _with(out, None, None, detail=detail)
        return _with(out, "resolve-ignored", cal.business_day_at(tried[-1].created_at, 1, hour), detail=detail)
    if strikes < policy.followup.strikes:
        return _with(out, f"strike-{strikes + 1}", cal.business_day_at(anchor, 1, hour))
    return _with(out, "resolve", cal.business_day_at(anchor, 1, hour))


RESOLVED_STEPS = ("resolved", "confirmed", "resolved-unconfirmed", "resolved-ignored", "resolved-dev-bug")
"""Markers of the bot's resolves: the reopen window runs from the latest."""


def _waiting_since(ticket: Ticket, support: Sequence[TicketComment], steps: Sequence[Step] = ()) -> datetime:
    """When the ticket began to wait: the first public word of support since the customer's last reply, or the
    last move into a waiting status if that is later (an agent who asks on Monday and sets the ticket pending on
    Wednesday starts the clock on Wednesday). Without either, the bot's first step, else `updated_at`."""
    moved = [
        c.at
        for c in ticket.status_changes
        if c.status in (Status.PENDING, Status.ON_HOLD) and c.status is not c.previous
    ]
    first = support[0].created_at if support else (steps[0].at if steps else None)
    found = [t for t in (first, max(moved, default=None)) if t is not None]
    return max(found) if found else ticket.updated_at


def attempts(support: Sequence[TicketComment], since: datetime) -> list[TicketComment]:
    """Support's public comments since the ticket began to wait on the customer: the contact attempts the closing
    rules count. The comment that came with the move into waiting counts (Zendesk stores both at one instant;
    JSM writes the comment, then the transition); an earlier one (a first response written while the ticket
    was still open) does not."""
    before = [c for c in support if c.created_at <= since and since - c.created_at <= SAME_UPDATE]
    return before[-1:] + [c for c in support if c.created_at > since]


SAME_UPDATE = timedelta(minutes=1)
"""How far apart a desk may store the comment and the status change of one update."""


def _confirmation_request(support: Sequence[TicketComment]) -> tuple[TicketComment, str] | None:
    """The first public comment of support since the customer's last reply that asks them to confirm it is solved."""
    for comment in support:
        phrase = asks_for_confirmation(comment.body)
        if phrase:
            return comment, phrase
    return None


def _low_priority_bug(policy: Policy, bug: Ticket | None) -> str | None:
    """ "DEV-12 (Low)" when `bug` is an active linked dev bug of a priority the closing rule resolves over."""
    priorities = {p.lower() for p in policy.followup.closing.dev_bug_priorities}
    if bug is None or bug.status in (Status.SOLVED, Status.CLOSED) or not priorities:
        return None
    if (bug.priority or "").lower() not in priorities:
        return None
    return f"{bug.id} ({bug.priority})"


def _with(
    s: Standing, action: str | None, at: datetime | None, on_hold_until: datetime | None = None, detail: str = ""
) -> Standing:
    return Standing(s.waiting_on, s.since, s.ladder, s.strikes, action, at, s.blocked, on_hold_until, s.zone, detail)


def blocked_by(policy: Policy, desk: str, ticket: Ticket) -> str | None:
    """Why the ladder does not run on `ticket` (stopped, paused, exempt), None when it does."""
    if STOP_TAG in ticket.tags:
        return f"stopped (tag {STOP_TAG})"
    if PAUSE_TAG in ticket.tags:
        return f"paused (tag {PAUSE_TAG})"
    why = exemption(policy, desk, ticket)
    return f"exempt ({why})" if why else None


def when(t: datetime) -> str:
    """ "Tue 3 Mar 10:00 Europe/Berlin": how due times read in notes and `status`."""
    return f"{t:%a} {t.day} {t:%b %Y %H:%M} {t.tzname() if t.tzinfo is not None else ''}".strip()


# --- the periodic ladder -------------------------------------------------------------------------------------


QUIET = timedelta(hours=1)
"""A ticket changed within the last hour is not read by the ladder's sweep: no step falls due that soon after a
change (the next strike is a business day away), and each candidate costs calls of the desk's API budget."""


def chases(policy: Policy, desk: str, ticket: Ticket) -> bool:
    """Whether the ladder owns this ticket's contact with the customer: a pending ticket while follow-up is on,
    unless exempt. The ping runbook leaves such tickets alone (no prompt beside the strikes); paused and stopped
    tickets get no automatic contact at all (an agent asked for quiet)."""
    if not policy.followup.enabled or ticket.status is not Status.PENDING:
        return False
    return exemption(policy, desk, ticket) is None


def select_waiting(policy: Policy, desk: str, now: datetime) -> TicketQuery | None:
    """Tickets the ladder looks at: waiting on the customer (pending) or on an out-of-office hold."""
    if not policy.followup.enabled:
        return None
    return TicketQuery(statuses=(Status.PENDING, Status.ON_HOLD), updated_before=now - QUIET)


def select_resolved(policy: Policy, desk: str, now: datetime) -> TicketQuery | None:
    """Resolved JSM requests, closed once the reopen window has passed (Zendesk closes solved tickets itself)."""
    if not policy.followup.enabled or desk != "jira":
        return None
    return TicketQuery(statuses=(Status.SOLVED,), updated_before=now - timedelta(days=policy.followup.reopen_days))


LINKED_BUG = "linked_bug"
"""Fact of the ladder's gather step: the ticket's linked dev bug (a `Ticket`), when it has one."""


def decide_ladder(s: Situation) -> Verdict:
    """The ladder's next step when it is due as of `s.now`: a strike, a resolve, or the end of a hold."""
    st = standing(s.ticket, s.policy, s.desk, s.facts.get(LINKED_BUG))
    if st.blocked:
        return Verdict(f"follow-up {st.blocked}")
    if st.next_action is None and st.detail:
        return Verdict(f"waiting on the {st.waiting_on}: {st.detail}")
    if st.next_action in (None, "close") or st.waiting_on == "support":
        return Verdict(f"waiting on {st.waiting_on}")
    assert st.next_at is not None  # every next action has its time
    cal = calendar_for(s.policy, s.desk, s.ticket.organization_id)
    if st.next_action == "reactivate":  # back to waiting: nothing is written to the customer
        if s.now < st.next_at:
            return Verdict(f"waiting on the {st.waiting_on}: reactivate due {when(st.next_at)}", due=st.next_at)
        return _reactivate(s, cal)
    waiting = _outside_hours(s, cal, st.next_action, st.next_at, st.waiting_on)
    if waiting is not None:
        return waiting
    if st.next_action.startswith("strike-"):
        return _strike(s, cal, int(st.next_action.rsplit("-", 1)[1]))
    if st.next_action == "resolve-unconfirmed":
        return _resolve_unconfirmed(s, st)
    if st.next_action == "resolve-ignored":
        return _resolve_ignored(s, st)
    if st.next_action == "resolve-dev-bug":
        return _resolve_dev_bug(s, st)
    return _resolve_silent(s, st)


def _outside_hours(
    s: Situation, cal: BusinessCalendar, action: str, due: datetime, waiting_on: str = "customer"
) -> Verdict | None:
    """None when the step due at `due` is sent now, else the verdict that says when it goes. A step that writes
    to the customer waits for their business hours and, with `sweeps.spread`, for the ticket's slot of the day
    (`bot/policy/spread.py`): a sweep that runs at night, or finds a backlog after a weekend, sends each step at
    its own time of the customer's next business day, never at 00:00 and not all at the opening."""
    hours = s.policy.followup.business_hours_only
    send = sends_at(s.policy, s.desk, s.ticket.id, cal, max(s.now, due)) if hours else due
    if s.now >= send:
        return None
    if send == due:
        return Verdict(f"waiting on the {waiting_on}: {action} due {when(due)}", due=due)
    how = "at the ticket's slot of the customer's day," if s.policy.sweeps.spread else "in their business hours from"
    due_at = f" {when(due)};" if s.now < due else ";"
    return Verdict(f"waiting on the {waiting_on}: {action} due{due_at} sent {how} {when(cal.local(send))}", due=send)


def _goes_out(s: Situation, cal: BusinessCalendar, due: datetime) -> str:
    """ " (goes out at 14:23, the ticket's slot)" when the spread sends the step later than it falls due, so the
    agent reading the note knows when the customer hears from the bot."""
    if not s.policy.followup.business_hours_only or not s.policy.sweeps.spread:
        return ""
    send = cal.local(sends_at(s.policy, s.desk, s.ticket.id, cal, due))
    if send == due:
        return ""
    day = "" if send.date() == cal.local(due).date() else f"{send:%a} {send.day} {send:%b} "
    return f" (goes out {day}at {send:%H:%M}, the ticket's slot)"


SETTLE = timedelta(hours=1)
"""How long after the instant a step was decided as of its write may land (a sweep's writes go out within its
cursor's hour). A ticket changed later than that was touched by someone since, and is read."""


def decide_ladder_from_search(s: Situation) -> Verdict | None:
    """The ladder's step decided on a search result (no comments), where the result alone makes it certain.

    A sweep over a large desk cannot read every candidate's comments: the step recorded in the desk's
    follow-up field (`RecordStep`) says what the notes would. It is certain for a pending ticket whose field
    holds a strike (with its tag still on) or a reactivation: the customer has not written since, or the
    reply runbook would have recorded a `reply` step and the desk would have reopened the ticket. Anything
    else (no step recorded, a reply, a hold, another ladder, a linked dev bug, a change made after the step was
    written: an agent's request to confirm would start a closing rule) returns None and the sweep reads the
    ticket.
    A step decided here is written guarded by the result's version, so a change since it was found wins.
    """
    t = s.ticket
    found = field_step(t)
    if found is None or found.after is None or t.status is not Status.PENDING or LINKED_TAG in t.tags:
        return None  # a linked dev bug may end the ladder (closing rules): the gather step looks it up
    if t.updated_at > found.at + SETTLE:
        return None  # changed after the step was written: an agent's comment may change what is next
    s = replace(s, facts={**s.facts, LAST_REPLY: found.after, KEPT_NAMES: (found.greet, found.agent)})
    ladder = ladder_for(s.policy, s.desk, t)
    if ladder is not None and ladder.kind != DEFAULT_LADDER:
        return None
    blocked = blocked_by(s.policy, s.desk, t)
    if blocked:
        return Verdict(f"follow-up {blocked}")
    cal = calendar_for(s.policy, s.desk, t.organization_id)
    at, step = found.at, found.name
    if step == "reactivated":
        return _outside_hours(s, cal, "strike-1", at) or _strike(s, cal, 1)
    if not step.startswith("strike-") or STRIKE_TAG.format(step.rsplit("-", 1)[1]) not in t.tags:
        return None
    sent = int(step.rsplit("-", 1)[1])
    due = cal.business_day_at(at, 1, _clock(s.policy))
    nxt = f"strike-{sent + 1}" if sent < s.policy.followup.strikes else "resolve"
    waiting = _outside_hours(s, cal, nxt, due)
    if waiting is not None:
        return waiting
    if sent < s.policy.followup.strikes:
        return _strike(s, cal, sent + 1)
    st = Standing("customer", at, DEFAULT_LADDER, sent, "resolve", due, zone=str(cal.zone))
    return _resolve_silent(s, st, documented=True)


def decide_close(s: Situation) -> Verdict:
    """JSM: a request resolved for longer than the reopen window is closed (its resolution is kept)."""
    st = standing(s.ticket, s.policy, s.desk)
    if st.next_action != "close" or st.next_at is None:
        return Verdict(f"not closed: waiting on {st.waiting_on}")
    if s.now < st.next_at:
        return Verdict(f"resolved: closes {when(st.next_at)}", due=st.next_at)
    days = s.policy.followup.reopen_days
    mark = marker("closed", s.now)
    note = _note(f"Closed: the {days}-day reopen window has passed without a reply.", mark)
    return Verdict(
        "closed after the reopen window",
        (SetStatus(rule=RULE, why="reopen window over", status=Status.CLOSED), note, _record(mark)),
    )


def _values(s: Situation, **extra: Any) -> dict[str, Any]:
    """Every template variable (see `bot/policy/templates`), so a policy's own text may use any of them."""
    name = s.ticket.requester.name or s.ticket.requester.email or ""
    greet, agent = s.facts.get(KEPT_NAMES) or (None, None)
    kept_agent = agent[1] if agent is not None and agent[0] == s.ticket.assignee_id else None
    return {
        **dict.fromkeys(SAMPLE_VALUES),  # a variable of another runbook's texts is empty here, never an error
        "customer_name": name.split()[0] if name.strip() else (greet or "there"),
        "customer_email": s.ticket.requester.email,
        "ticket_id": s.ticket.id,
        "ticket_url": s.ticket.url,
        "request_type": s.ticket.request_type or "",
        "request_type_name": s.ticket.request_type or "",
        "phone": s.policy.service_desk.phone,
        "hours": s.policy.service_desk.hours,
        "agent_name": agent_name(s.ticket) or kept_agent,
        "department": s.policy.service_desk.department,
        "reason": _reason(s.ticket),
        "rule": RULE,
        "rule_why": "",
        "assignment": "",
        "short_description": s.ticket.subject,
        "reopen_days": s.policy.followup.reopen_days,
        "strike": 0,
        "strikes": s.policy.followup.strikes,
        "resolution": s.policy.followup.resolution,
        **extra,
    }


def agent_name(ticket: Ticket) -> str | None:
    """The assignee's name as the desk shows it on their comments (the ticket itself only holds their id); else
    the agent who last wrote in public; None when no agent wrote (the texts then say "the support team")."""
    agents = [c.author for c in ordered(ticket) if c.author.role is Role.AGENT and c.author.name]
    mine = [a for a in agents if a.id == ticket.assignee_id]
    chosen = mine[-1] if mine else (agents[-1] if agents else None)
    return chosen.name if chosen else None


def _reason(ticket: Ticket) -> str:
    """Why we contact the customer, for the voicemail: the question support last asked them, else a plain line."""
    asked = [c for c in since_last_reply(ticket) if c.public and c.author.role is Role.AGENT]
    questions = re.findall(r"[^.!?\n]*\?", asked[0].body) if asked else []
    if questions:
        return f"We need your answer to our question: {' '.join(questions[0].split())}"
    return "We need some information from you to continue working on it."


def _public(s: Situation, template: str, why: str, **extra: Any) -> Comment:
    body = render(template, s.policy.templates, _values(s, **extra))
    return Comment(rule=RULE, why=why, body=body, visibility=Visibility.PUBLIC, template=template)


def _note(text: str, mark: str, why: str = "follow-up step (internal)") -> Comment:
    return Comment(rule=RULE, why=why, body=f"{text}\n{mark}", visibility=Visibility.INTERNAL)


def notes_in_field(policy: Policy, desk: str) -> bool:
    """Whether the ladder's step notes travel in the desk's follow-up field rather than as internal comments."""
    return policy.followup.step_notes == "field" and getattr(policy.desk(desk), "followup_field", None) is not None


def _documented(s: Situation, step: str, text: str, *extra: Comment) -> list[Action]:
    """A ladder step's record for agents and for the next sweep: its note (`text`, then `extra` notes such as the
    call task) and its marker. In the follow-up field when the desk keeps one and the policy says so: the step
    then costs one update (its customer message carries the field), which is what lets a sweep over a large desk
    write each changed ticket once. Otherwise internal comments, one update each, and the marker in the field.
    The field's marker also keeps whom the message greeted and which agent it spoke for, so the next step, decided
    on a search result, reads the same without looking anyone up."""
    values = _values(s)
    greet = values["customer_name"] if values["customer_name"] != "there" else None
    agent = (s.ticket.assignee_id, values["agent_name"]) if s.ticket.assignee_id and values["agent_name"] else None
    kept = marker(step, s.now, after=_reply_id(s), greet=greet, agent=agent)
    if notes_in_field(s.policy, s.desk):
        notes = (text, *(c.body for c in extra))
        return [
            RecordStep(rule=RULE, why="follow-up step and its notes, in the follow-up field", marker=kept, notes=notes)
        ]
    return [_note(text, marker(step, s.now)), *extra, _record(kept)]


def _reply_id(s: Situation) -> str:
    """The customer's last public comment as the step is taken: from the comments read, or on a search result
    (no comments) from the field's marker (`LAST_REPLY`)."""
    known = s.facts.get(LAST_REPLY)
    return str(known) if known is not None else last_reply_id(s.ticket)


def _record(mark: str) -> RecordStep:
    return RecordStep(rule=RULE, why="follow-up state where a search sees it", marker=mark)


def chat_channel(policy: Policy, desk: str, ticket: Ticket) -> str | None:
    """The customer's chat channel for the chat attempt: their organization's, else `followup.chat.channel`."""
    chat = policy.followup.chat
    for org in sorted(_names(policy.desk(desk).organizations, ticket.organization_id)):
        if org in chat.organizations:
            return chat.organizations[org]
    return chat.channel


def _strike(s: Situation, cal: BusinessCalendar, n: int) -> Verdict:
    total = s.policy.followup.strikes
    hour = _clock(s.policy)
    actions: list[Action] = [_public(s, f"strike_{n}", f"strike {n}/{total}: no reply for a business day")]
    if n == 1:
        channel = chat_channel(s.policy, s.desk, s.ticket)
        if channel is None:
            how = " (chat attempt: no chat channel for this customer, so documented as a public comment only)"
        elif not cal.is_working_time(s.now):
            how = " (chat attempt: outside the customer's working hours, so documented as a public comment only)"
        else:
            how = f" (chat attempt: posted to chat channel {channel!r} and documented as a public comment)"
            text = render("strike_1_chat", s.policy.templates, _values(s, strike=n))
            why = "strike 1: the chat attempt, within the customer's working hours"
            actions.append(PostChat(rule=RULE, why=why, channel=channel, text=text, thread_key=_thread(s.ticket)))
    else:
        how = " (phone attempt: call task with the voicemail script below)" if n == 2 else " (email)"
    next_due = cal.business_day_at(s.now, 1, hour)
    goes = _goes_out(s, cal, next_due)
    if n < total:
        resolve = cal.business_day_at(next_due, total - n, hour)
        plan = f"strike {n + 1} due {when(cal.local(next_due))}{goes}; resolve {resolve:%a} {resolve.day} {resolve:%b}"
    else:
        plan = f"resolve due {when(cal.local(next_due))}{goes} unless the customer replies"
    calls: list[Comment] = []
    if n == 2:
        script = render("voicemail_script", s.policy.templates, _values(s, strike=n))
        calls.append(Comment(rule=RULE, why="phone attempt", body=script, visibility=Visibility.INTERNAL))
    actions += _documented(s, f"strike-{n}", f"Follow-up strike {n}/{total} sent{how}; {plan}.", *calls)
    stale = tuple(t for t in strike_tags(s.ticket) if t not in STRIKE_TAGS[:n])
    actions.append(Tag(rule=RULE, why=f"strike {n} sent", add=(STRIKE_TAG.format(n),), remove=stale))
    return Verdict(f"strike {n}/{total} sent", tuple(actions), due=next_due)


def _thread(ticket: Ticket) -> str:
    """One chat thread per ticket (Google Chat threads by key; Slack's incoming webhooks cannot)."""
    return f"{ticket.desk}-{ticket.id}"


def _resolve_silent(s: Situation, st: Standing, *, documented: bool = False) -> Verdict:
    """Day 4 (or the quick rule): resolved "User not responded", never over a customer's reply.

    `documented`: the last strike is known from the follow-up field, written with its public comment."""
    contacts = [c for c in since_last_reply(s.ticket) if c.public and c.author.role is Role.BOT]
    quick = st.next_action == "quick-resolve"
    if not quick and not documented and len(contacts) < s.policy.followup.strikes:
        return Verdict(
            f"not resolved: {len(contacts)} of {s.policy.followup.strikes} strikes are documented as public comments"
        )
    ladder = ladder_for(s.policy, s.desk, s.ticket)
    approval = quick and ladder is not None and ladder.approval
    template = ("quick_resolve_approval" if approval else "quick_resolve") if quick else "resolved_no_response"
    resolution = s.policy.followup.resolution
    if approval:
        why = "quick rule: the third party's approval did not arrive within the business day(s) allowed"
    elif quick:
        why = "quick rule: no reply within the business day(s) allowed"
    else:
        why = "three strikes unanswered"
    text = f"Resolved as {resolution!r} ({why}); a reply within {s.policy.followup.reopen_days} days reopens it."
    return _resolved(s, template, why, resolution, text, "resolved", closure_tag=True)


def _resolve_unconfirmed(s: Situation, st: Standing) -> Verdict:
    """Closing rule: support asked the customer to confirm it is solved and heard nothing for a business day."""
    resolution = s.policy.followup.closing.unconfirmed_resolution
    days = s.policy.followup.closing.confirmation_days
    why = f"no answer for {days} business day(s) to the request to confirm it is solved"
    text = f"Resolved as {resolution!r} (closing rule: {why}; {st.detail})."
    return _resolved(s, "resolved_unconfirmed", why, resolution, text, "resolved-unconfirmed")


def _resolve_ignored(s: Situation, st: Standing) -> Verdict:
    """Closing rule: the customer ignored two (`closing.ignored_attempts`) or more contact attempts."""
    resolution = s.policy.followup.resolution
    assert st.since is not None  # waiting on the customer
    support = [c for c in since_last_reply(s.ticket) if c.public and c.author.role is not Role.CUSTOMER]
    count = len(attempts(support, st.since))
    why = f"the customer ignored {count} contact attempts"
    days = s.policy.followup.reopen_days
    text = f"Resolved as {resolution!r} (closing rule: {why}); a reply within {days} days reopens it."
    return _resolved(s, "resolved_ignored", why, resolution, text, "resolved-ignored", closure_tag=True, attempts=count)


def _resolve_dev_bug(s: Situation, st: Standing) -> Verdict:
    """Closing rule: all that remains is an active low-priority dev bug, which the developers track."""
    bug = s.facts[LINKED_BUG]
    resolution = s.policy.followup.closing.dev_bug_resolution
    why = f"only an active low-priority dev bug remains: {st.detail.removeprefix('only ').removesuffix(' remains')}"
    text = f"Resolved as {resolution!r} (closing rule: {why}); the bug stays open in the dev project: {bug.url}"
    return _resolved(s, "resolved_dev_bug", why, resolution, text, "resolved-dev-bug", bug_key=bug.id)


def _resolved(
    s: Situation,
    template: str,
    why: str,
    resolution: str,
    text: str,
    step: str,
    closure_tag: bool = False,
    **extra: Any,
) -> Verdict:
    """A resolve by one rule: its closing comment, the resolution method, its note, follow-up tags off."""
    add = (CLOSURE_TAG,) if closure_tag else ()
    remove = () if closure_tag else tuple(t for t in (*strike_tags(s.ticket), ON_HOLD_TAG) if t in s.ticket.tags)
    actions: list[Action] = [
        _public(s, template, why, **extra),
        Resolve(rule=RULE, why=why, resolution=resolution),
        *_documented(s, step, text),
    ]
    if add or remove:
        actions.append(
            Tag(
                rule=RULE, why="closure code visible on the ticket" if add else "follow-ups end", add=add, remove=remove
            )
        )
    return Verdict(f"resolved: {resolution}" + ("" if closure_tag else f" ({step})"), tuple(actions))


def _reactivate(s: Situation, cal: BusinessCalendar) -> Verdict:
    """The hold's reactivation date: back to waiting on the customer, strikes restart."""
    first = s.now if cal.is_working_time(s.now) else cal.next_working_moment(s.now)
    due = f"{when(cal.local(first))}{_goes_out(s, cal, first)}"
    text = f"Hold ended (reactivation date reached): waiting on the customer again; strike 1 due {due}."
    return Verdict(
        "hold ended: waiting on the customer again",
        (
            SetStatus(rule=RULE, why="reactivation date reached", status=Status.PENDING),
            *_documented(s, "reactivated", text),
            Tag(rule=RULE, why="hold over, strikes restart", remove=(ON_HOLD_TAG, *STRIKE_TAGS)),
        ),
    )


def return_day_start(day: date, cal: BusinessCalendar) -> datetime:
    """Noon of `day` in the calendar's zone: the instant "back on <day>" is counted from."""
    return datetime.combine(day, time(12), tzinfo=cal.zone)


# --- what a customer's comment does -------------------------------------------------------------------------


def decide_reply(s: Situation) -> Verdict:
    """On a comment or status event: the customer's latest public comment, if the bot has not answered it yet.

    A plain reply clears the strikes and hands the ticket back to the agent (on JSM also within the reopen
    window of a resolved request; Zendesk reopens solved tickets itself). An out-of-office auto-reply is no reply:
    "First Customer Follow-up" note and on hold until one business day after the contact or the return date. A
    confirmation ("that fixed it") resolves, unless the ticket is exempt from auto-resolving.
    """
    if not s.policy.followup.enabled:
        return Verdict("follow-up is off")
    public = [c for c in ordered(s.ticket) if c.public]
    last = public[-1] if public else None
    if last is None or last.author.role is not Role.CUSTOMER:
        return Verdict("no customer reply to act on")
    if handled(s.ticket, last.id):
        return Verdict("customer reply already handled")
    if s.ticket.status is Status.CLOSED:
        return Verdict("closed: a reply needs a new request")
    cal = calendar_for(s.policy, s.desk, s.ticket.organization_id)
    reply = classify_reply(
        last.body, sent_at=last.created_at, zone=cal.zone, subject=last.subject, headers=dict(last.headers)
    )
    asked = next((c for c in reversed(public[:-1]) if c.author.role is not Role.CUSTOMER), None)
    solved = s.ticket.status is Status.SOLVED
    if reply.kind is ReplyKind.OUT_OF_OFFICE and asked is not None and not solved:
        return _hold(s, cal, last, asked, reply)
    if reply.kind is ReplyKind.OUT_OF_OFFICE:
        return Verdict(f"out-of-office auto-reply ignored: nothing was asked of the customer ({reply.reason})")
    if reply.kind is ReplyKind.CONFIRMATION and not solved and blocked_by(s.policy, s.desk, s.ticket) is None:
        return _confirmed(s, last, reply.reason)
    return _back_to_agent(s, last)


def _hold(s: Situation, cal: BusinessCalendar, ooo: TicketComment, asked: TicketComment, reply: ReplyClass) -> Verdict:
    """Out of office: documented as the first follow-up attempt, on hold until the reactivation date."""
    hour = _clock(s.policy)
    if reply.return_date is not None:
        until = cal.business_day_at(return_day_start(reply.return_date, cal), 1, hour)
        back = f", back on {reply.return_date:%a} {reply.return_date.day} {reply.return_date:%b %Y}"
    else:
        until = cal.business_day_at(ooo.created_at, 1, hour)
        back = " (no return date given)"
    needed = " ".join(asked.body.split())
    text = (
        f"First Customer Follow-up: our last public message was answered by an out-of-office auto-reply{back} "
        f"({reply.reason}). Still needed from the customer: {needed[:300]}{'…' if len(needed) > 300 else ''}\n"
        f"On hold - awaiting caller until {when(until)}; then the ticket waits on the customer again and the "
        "strikes restart."
    )
    return Verdict(
        f"out of office: on hold until {when(until)}",
        (
            SetStatus(rule=RULE, why="out-of-office auto-reply: not a reply", status=Status.ON_HOLD),
            _note(text, marker("hold", s.now, until=until, reply=ooo.id)),
            _record(marker("hold", s.now, until=until, reply=ooo.id)),
            Tag(rule=RULE, why="on hold for an out-of-office", add=(ON_HOLD_TAG,), remove=strike_tags(s.ticket)),
        ),
        due=until,
    )


def _confirmed(s: Situation, comment: TicketComment, reason: str) -> Verdict:
    resolution = s.policy.followup.confirmed_resolution
    text = f"Resolved as {resolution!r}: the customer confirmed it is solved ({reason})."
    return Verdict(
        f"confirmed by the customer: resolved ({resolution})",
        (
            _public(s, "confirmed_resolved", "the customer confirmed the problem is solved"),
            Resolve(rule=RULE, why=f"customer confirmation: {reason}", resolution=resolution),
            _note(text, marker("confirmed", s.now, reply=comment.id)),
            _record(marker("confirmed", s.now, reply=comment.id)),
            Tag(rule=RULE, why="follow-ups end", remove=(*strike_tags(s.ticket), ON_HOLD_TAG)),
        ),
    )


def _back_to_agent(s: Situation, comment: TicketComment) -> Verdict:
    """A plain reply: strikes cleared, the agent's move. A resolved JSM request reopens within the window."""
    t = s.ticket
    clear = (*strike_tags(t), *(x for x in (ON_HOLD_TAG, CLOSURE_TAG) if x in t.tags))
    if t.status is Status.SOLVED:
        st = standing(t, s.policy, s.desk)
        if st.next_at is None:
            return Verdict("reply on a solved ticket: the desk reopens it itself")
        if s.now >= st.next_at:
            return Verdict("reply after the reopen window: a new request is needed")
        why = f"reopened: the customer replied within the {s.policy.followup.reopen_days}-day reopen window"
    elif clear or t.status in (Status.PENDING, Status.ON_HOLD):
        why = "the customer replied: follow-ups reset, back to the agent"
    else:
        return Verdict("customer replied: waiting on support")
    return Verdict(
        why.split(":")[0] if t.status is Status.SOLVED else "customer replied: strikes cleared",
        (
            SetStatus(rule=RULE, why=why, status=Status.OPEN),
            _note(f"{why[0].upper()}{why[1:]}.", marker("reply", s.now, reply=comment.id)),
            _record(marker("reply", s.now, reply=comment.id)),
            Tag(rule=RULE, why="the customer answered", remove=clear),
        ),
    )


def recheck_after_write(s: Situation, decided: Ticket) -> Verdict:
    """After a strike or a resolve was written: did the customer write while it was being written?

    `s.ticket` is the ticket read back, `decided` the snapshot the step was decided on. JSM writes carry no version
    guard, and a Zendesk reply within the same second as the read passes `safe_update`: a public customer comment
    that is in the ticket now but was not in the snapshot means the step went out over a reply. The ticket goes
    back to the agent (reopened if it was just resolved), the strike tags come off, and a note says why.
    """
    seen = {c.id for c in decided.comments}
    landed = [c for c in ordered(s.ticket) if c.public and c.author.role is Role.CUSTOMER and c.id not in seen]
    if not landed:
        return Verdict("no customer reply landed during the write")
    reply = landed[-1]
    if handled(s.ticket, reply.id):
        return Verdict("the reply that landed during the write is already handled")
    clear = (*strike_tags(s.ticket), *(x for x in (ON_HOLD_TAG, CLOSURE_TAG) if x in s.ticket.tags))
    text = (
        "A customer reply arrived while the bot was sending its follow-up step, so the step does not stand: "
        "back to the agent (strikes cleared)."
    )
    return Verdict(
        "a customer reply landed during the write: back to the agent",
        (
            SetStatus(rule=RULE, why="customer reply during the bot's write", status=Status.OPEN),
            _note(text, marker("reply", s.now, reply=reply.id)),
            _record(marker("reply", s.now, reply=reply.id)),
            Tag(rule=RULE, why="the customer answered", remove=clear),
        ),
    )
