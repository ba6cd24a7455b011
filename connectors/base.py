"""The one interface every helpdesk connector implements (`Helpdesk`) and how a desk is configured.

The types it speaks live in `bot.domain`; the HTTP transport in `connectors.http`; webhook helpers in
`connectors.webhook_kit`. Policy and task code depend on this protocol only, never on a vendor client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from bot.domain.tickets import (
    AgentLoad,
    BulkJob,
    BulkResult,
    LinkedIssue,
    NewComment,
    Person,
    SearchPage,
    Ticket,
    TicketChanges,
    TicketQuery,
)

if TYPE_CHECKING:
    from connectors.http import CallGate


K = TypeVar("K")
V = TypeVar("V")


@runtime_checkable
class Helpdesk(Protocol):
    """What the bot needs from a desk. Every method is I/O; none decides anything."""

    name: str

    def me(self) -> Person:
        """The bot's own user on this desk, so its echoes can be ignored."""
        ...

    def get_ticket(self, ticket_id: str) -> Ticket:
        """The ticket with its comments, freshly read."""
        ...

    def find_person(self, email: str, *, create: bool = False, name: str | None = None) -> Person | None:
        """The user with this email; with `create`, a new customer when none exists."""
        ...

    def group_agents(self, group_id: str, *, with_load: bool = True) -> list[AgentLoad]:
        """Assignable agents of a group with their open-ticket counts (0 without `with_load`, which
        spares one search per agent when the strategy does not need counts, e.g. round-robin)."""
        ...

    def apply(self, ticket: Ticket, changes: TicketChanges) -> str | None:
        """Write `changes` (and its comment) to the ticket, guarded by `ticket.version` where possible; returns
        the ticket's new version when the desk's answer gives it (None: unknown, or the desk keeps none)."""
        ...

    def create_linked_issue(
        self,
        ticket: Ticket,
        *,
        project: str,
        summary: str,
        description: str,
        issue_type: str = "Bug",
        comment: NewComment | None = None,
    ) -> LinkedIssue:
        """Create an issue in another project, link it to `ticket`, and comment on it (with mentions).

        `ticket` may be on another desk (a Zendesk ticket's bug in Jira): the issue then links back to the
        ticket's URL. Either way it carries `linked_issue_label(ticket)`, which `find_linked_issue` looks for.
        """
        ...

    def find_linked_issue(self, ticket: Ticket, *, project: str) -> LinkedIssue | None:
        """The issue of `project` already created for `ticket` (looked up before creating one)."""
        ...

    def search(self, query: TicketQuery, cursor: str | None = None) -> SearchPage:
        """One page of tickets matching `query`; pass `next_cursor` back for the next one."""
        ...

    def count(self, query: TicketQuery) -> int:
        """How many tickets match `query`, without reading them (repeat-customer counts)."""
        ...

    def bulk_apply(self, changes: Mapping[str, TicketChanges], versions: Mapping[str, str] | None = None) -> BulkResult:
        """Apply per-ticket changes in as few calls as the desk allows; where the desk can, a ticket with a
        version in `versions` is only written if unchanged since (else it is listed in `conflicts`)."""
        ...


@runtime_checkable
class BulkJobs(Protocol):
    """Desks whose bulk writes run as background jobs (Zendesk): sending and checking are two steps, so a caller
    can record which job carries a write before waiting for it, and a restarted worker asks that job again
    instead of sending the write twice."""

    def submit_bulk(
        self, changes: Mapping[str, TicketChanges], versions: Mapping[str, str] | None = None
    ) -> list[BulkJob]:
        """Queue the changes (each ticket its own body, guarded by its version where given); at most
        `max_jobs` jobs at once."""
        ...

    def bulk_results(self, jobs: Sequence[BulkJob]) -> BulkResult:
        """Wait for the jobs to end; each of their tickets' outcome (None: written). A job the desk no longer
        knows gives its tickets an error."""
        ...


def linked_issue_label(ticket: Ticket) -> str:
    """The label that ties an issue to the ticket it was created for, on whichever desk that ticket is."""
    return f"helpdesk-bot-ref-{ticket.desk}-{ticket.id}".lower()


def iter_search(desk: Helpdesk, query: TicketQuery) -> Iterator[Ticket]:
    """Every ticket matching `query`, following cursors until the desk says there are no more."""
    cursor: str | None = None
    while True:
        page = desk.search(query, cursor)
        yield from page.tickets
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class TtlCache(Generic[K, V]):
    """Values a desk changes rarely (a group's members, a workflow's transitions), kept by one adapter for
    `seconds` so each new ticket does not read them again; 0 turns the cache off. Per process, never shared:
    a change on the desk is seen by every worker within `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value kept for `key`, else what `load()` reads now (then kept)."""
        hit = self._items.get(key)
        if hit is not None and self.clock() - hit[0] < self.seconds:
            return hit[1]
        value = load()
        if self.seconds > 0:
            self._items[key] = (self.clock(), value)
        return value

    def drop(self, key: K) -> None:
        """Forget `key` (what was kept proved stale)."""
        self._items.pop(key, None)


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Split `items` into runs of at most `size`: bulk endpoints cap how many ids one call takes."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class DeskConfig:
    """How to reach one desk and the adapter's settings.

    `options` is the desk's typed options model (`connectors/<desk>/options.py`; the policy's
    `desks.<desk>` section is an instance of it), or a plain mapping of the same keys (tests, scripts),
    which the adapter validates with that model. Only the adapter reads it, so policy code never needs
    to know a vendor's field ids.
    """

    url: str
    email: str
    token: str = field(repr=False)  # never in a log line or traceback
    options: BaseModel | Mapping[str, Any] | None = None
    timeout: float = 10.0
    gate: CallGate | None = None
    """Admits every call to this desk (the shared API budget, a desk-wide pause); None admits all."""
