"""Where a ticket stands in the follow-up ladder, read from the ticket alone: who spoke last in public, whether it
waits on the customer and since when, how many strikes were sent, and whether agents paused or stopped it.

The ladder keeps no state of its own: everything is on the ticket (public comments, status, its history, and the
`helpdesk-bot-*` tags), so a sweep run on any worker, a replay or a dry run reads the same answer, and an agent
can see and change it on the desk. Internal notes never count: only what the customer saw or wrote moves the
ladder.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.tickets import Comment, Role, Status, Ticket

STRIKE_TAG = "helpdesk-bot-strike-{}"
STRIKE_TAGS = tuple(STRIKE_TAG.format(n) for n in (1, 2, 3))
"""One per follow-up sent while the ticket waits on the customer; all cleared when the customer answers."""
ON_HOLD_TAG = "helpdesk-bot-on-hold"
PAUSE_TAG = "helpdesk-bot-pause"
STOP_TAG = "helpdesk-bot-stop"
_STRIKE = re.compile(r"helpdesk-bot-strike-([1-9]\d*)")
_WAITING_STATUSES = (Status.PENDING, Status.ON_HOLD)
"""Statuses whose start may (re)start the customer's clock."""


class Party(enum.StrEnum):
    """Whose move it is."""

    CUSTOMER = "customer"
    SUPPORT = "support"


@dataclass(frozen=True)
class LastWord:
    """The latest public comment: who wrote it (customer, agent or the bot) and when."""

    role: Role
    at: datetime
    comment_id: str


@dataclass(frozen=True)
class FollowUpState:
    """The follow-up facts of one ticket snapshot (see `follow_up_state`)."""

    status: Status
    last_public: LastWord | None
    """The latest public comment; None when there is none."""
    last_customer_reply: datetime | None
    """When the customer last wrote in public."""
    waiting_on: Party | None
    """CUSTOMER when the status says so (pending, or on hold with the bot's `helpdesk-bot-on-hold` tag: an
    out-of-office hold; a plain hold waits on a third party) and the customer has not written since the last
    public word of support; SUPPORT otherwise; None once the ticket is solved or closed."""
    waiting_since: datetime | None
    """When the ticket began to wait on the customer (None unless `waiting_on` is CUSTOMER): the first public
    word of support after the customer's last reply, or the last move into pending or on hold if that is later
    (a hold ending on its reactivation date restarts the clock, as does an agent's later status change)."""
    contacts: tuple[datetime, ...]
    """Public comments of support (agents and bot) since the customer's last reply, oldest first: the attempts
    the closing rules count ("all three strikes documented as customer-visible comments")."""
    strikes: int
    """The highest `helpdesk-bot-strike-N` tag present (0 without one)."""
    paused: bool
    stopped: bool
    on_hold: bool

    bot_contacts: int
    """How many of `contacts` the bot wrote (every strike is one)."""

    @property
    def stale_strikes(self) -> bool:
        """Strike tags that no longer hold: the customer answered after they were sent (fewer public comments
        of the bot since the customer's last reply than strikes), or the ticket no longer waits on them."""
        if not self.strikes:
            return False
        return self.waiting_on is not Party.CUSTOMER or self.bot_contacts < self.strikes


def strike_count(tags: Iterable[str]) -> int:
    """The strike the ladder reached, from its tags (`helpdesk-bot-strike-2` → 2); 0 without one."""
    return max((int(m[1]) for tag in tags if (m := _STRIKE.fullmatch(tag))), default=0)


def public_comments(ticket: Ticket) -> list[Comment]:
    """The customer-visible comments, oldest first (desks do not promise an order)."""
    return sorted((c for c in ticket.comments if c.public), key=lambda c: c.created_at)


def last_public_word(ticket: Ticket) -> LastWord | None:
    comments = public_comments(ticket)
    if not comments:
        return None
    last = comments[-1]
    return LastWord(last.author.role, last.created_at, last.id)


def follow_up_state(ticket: Ticket) -> FollowUpState:
    """Where `ticket` stands in the follow-up ladder; pure, from the snapshot only."""
    comments = public_comments(ticket)
    customer = [c for c in comments if c.author.role is Role.CUSTOMER]
    last_reply = customer[-1].created_at if customer else None
    support = [
        c for c in comments if c.author.role is not Role.CUSTOMER and (last_reply is None or c.created_at > last_reply)
    ]
    last = comments[-1] if comments else None
    tags = set(ticket.tags)
    waiting_on: Party | None
    since: datetime | None = None
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        waiting_on = None
    elif _waits_on_customer(ticket, tags) and (last is None or last.author.role is not Role.CUSTOMER):
        waiting_on = Party.CUSTOMER
        since = _waiting_since(ticket, support[0].created_at if support else None)
    else:
        waiting_on = Party.SUPPORT
    return FollowUpState(
        status=ticket.status,
        last_public=LastWord(last.author.role, last.created_at, last.id) if last else None,
        last_customer_reply=last_reply,
        waiting_on=waiting_on,
        waiting_since=since,
        contacts=tuple(c.created_at for c in support),
        strikes=strike_count(tags),
        paused=PAUSE_TAG in tags,
        stopped=STOP_TAG in tags,
        on_hold=ON_HOLD_TAG in tags,
        bot_contacts=sum(c.author.role is Role.BOT for c in support),
    )


def _waits_on_customer(ticket: Ticket, tags: set[str]) -> bool:
    return ticket.status is Status.PENDING or (ticket.status is Status.ON_HOLD and ON_HOLD_TAG in tags)


def _waiting_since(ticket: Ticket, first_contact: datetime | None) -> datetime:
    """The later of the first public word of support since the customer's reply and the last move into a
    waiting status; without either (no comment, no history) the snapshot's `updated_at`, which is never too
    early."""
    moved = [
        change.at
        for change in ticket.status_changes
        if change.status in _WAITING_STATUSES and change.status is not change.previous
    ]
    candidates = [t for t in (first_contact, max(moved, default=None)) if t is not None]
    return max(candidates) if candidates else ticket.updated_at
