"""The normalized ticket vocabulary every desk is translated into: tickets, people, comments, writes.

Policy and task code only ever see these types, never a vendor client's, so a rule written once works
on every desk and a vendor's quirks stay inside its own connector folder. This module imports nothing
from the project: every layer above may import it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Status(enum.StrEnum):
    """Ticket status on a common scale; each adapter maps its desk's workflow onto it."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class Role(enum.StrEnum):
    """Who wrote or changed something: decides whether a ticket is waiting on the customer or on us."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


class Visibility(enum.StrEnum):
    """Whether the customer sees a comment (public) or only agents do (internal note)."""

    PUBLIC = "public"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Person:
    """A user of a desk: customer, agent or the bot itself. `id` is the desk's own id as text."""

    id: str
    name: str
    email: str | None = None
    role: Role = Role.CUSTOMER
    organization_id: str | None = None
    available: bool = True
    """False when the desk itself marks the agent away (out of office, unavailable)."""


@dataclass(frozen=True)
class AgentLoad:
    """An assignable agent with the number of open tickets they hold, for least-loaded assignment."""

    agent: Person
    open_tickets: int


@dataclass(frozen=True)
class Comment:
    id: str
    author: Person
    body: str
    visibility: Visibility
    created_at: datetime
    subject: str | None = None
    """The subject of the mail the comment came from, where the desk kept it (else None)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Mail headers the desk kept with the comment (name, value), e.g. `Auto-Submitted`: what tells an
    auto-reply from a person's mail most reliably."""

    @property
    def public(self) -> bool:
        return self.visibility is Visibility.PUBLIC


@dataclass(frozen=True)
class StatusChange:
    """One entry of a ticket's status history (Zendesk audits, Jira changelog): when it moved to `status`,
    from where, and who moved it (None when the desk does not say, e.g. an automation)."""

    at: datetime
    status: Status
    previous: Status | None = None
    by: Role | None = None


@dataclass(frozen=True)
class Ticket:
    """A snapshot of one ticket as the desk returned it.

    `version` is the desk's optimistic-concurrency token (Zendesk `updated_at`, used as `updated_stamp`);
    a write decided from this snapshot carries it, so a change made meanwhile by a human turns the write
    into `Conflict` instead of silently overwriting it.
    """

    desk: str
    id: str
    subject: str
    description: str
    status: Status
    requester: Person
    created_at: datetime
    updated_at: datetime
    version: str
    priority: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    request_type: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    """The organization's name where the desk gives it with the ticket (JSM); searches by organization need it
    there (JQL's `Organizations` takes names)."""
    channel: str = "web"
    form: str | None = None
    tags: tuple[str, ...] = ()
    participant_ids: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    comments: tuple[Comment, ...] = ()
    project: str | None = None
    url: str | None = None
    resolution: str | None = None
    """How a resolved ticket was resolved (Jira's resolution name: Done, Won't Do...); None while open."""
    followup_state: str | None = None
    """The last follow-up step's marker as the desk keeps it in a field (`RecordStep`); None when the desk has
    no such field configured or no step was recorded there yet."""
    status_changes: tuple[StatusChange, ...] = ()
    """Status history, oldest first, where the adapter read it; empty when it did not (the follow-up state then
    relies on comments alone)."""

    def last_public_comment(self) -> Comment | None:
        public = [c for c in self.comments if c.public]
        return max(public, key=lambda c: c.created_at) if public else None


@dataclass(frozen=True)
class SlaMetric:
    """One SLA clock of a ticket as the desk reports it (JSM `/request/{key}/sla`): when it breaches, and
    whether it already has or has stopped (the goal was met or missed)."""

    name: str
    breach_at: datetime | None
    breached: bool
    running: bool


@dataclass(frozen=True)
class NewComment:
    """A comment to add with a write. Mentions are person ids the desk should notify."""

    body: str
    visibility: Visibility = Visibility.INTERNAL
    mentions: tuple[Person, ...] = ()


@dataclass(frozen=True)
class TicketChanges:
    """Everything one write may change. `None` / empty means "leave as is".

    Adapters send all of it in as few API calls as the desk allows (Zendesk: one `PUT`), which keeps
    quota use low and makes the change land together or not at all where the desk can.
    """

    assignee_id: str | None = None
    group_id: str | None = None
    request_type: str | None = None
    requester_id: str | None = None
    add_participant_ids: tuple[str, ...] = ()
    status: Status | None = None
    resolution: str | None = None
    priority: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    comment: NewComment | None = None
    followup_state: str | None = None
    """The follow-up step's marker for the desk's follow-up field (`RecordStep`); None leaves it as is."""
    audit_note: str | None = None
    """The bot's audit note, written to the desk's audit field (`audit_field`) in the same call."""

    def is_empty(self) -> bool:
        return self == TicketChanges()


@dataclass(frozen=True)
class TicketQuery:
    """Tickets to sweep or count: in one of `statuses` (empty: any) and not updated since `updated_before`;
    optionally only those of one requester or organization created since `created_after`."""

    statuses: tuple[Status, ...]
    updated_before: datetime | None = None
    project: str | None = None
    requester_id: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    """The organization's name, for desks that search organizations by name (JSM)."""
    created_after: datetime | None = None
    created_before: datetime | None = None
    exclude_id: str | None = None
    """A ticket to leave out (the one a count is made for: desks' search indexes lag behind a new ticket)."""


@dataclass(frozen=True)
class SearchPage:
    tickets: tuple[Ticket, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class LinkedIssue:
    key: str
    id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class BulkJob:
    """A bulk write the desk runs in the background (Zendesk `update_many`): its id and the tickets it carries."""

    id: str
    tickets: tuple[str, ...]


@dataclass(frozen=True)
class BulkResult:
    """Outcome of a bulk write per ticket id: None when it succeeded, else the desk's error text."""

    errors: Mapping[str, str | None]
    jobs: int
    conflicts: tuple[str, ...] = ()
    """Tickets refused because they changed since they were read (their `version` was passed and is stale)."""

    @property
    def failed(self) -> dict[str, str]:
        return {k: v for k, v in self.errors.items() if v is not None}
