"""The one interface every helpdesk connector implements, and the normalized types it speaks.

Policy and task code only ever see these types: they never import a vendor client, so a rule written
once works on every desk, and a vendor's quirks stay inside its own folder (`connectors/<desk>/`).
Errors are this module's own; an adapter translates its client's exceptions into them in one place,
so the task layer can map each to a retry schedule without knowing which desk raised it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


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

    @property
    def public(self) -> bool:
        return self.visibility is Visibility.PUBLIC


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
    channel: str = "web"
    form: str | None = None
    tags: tuple[str, ...] = ()
    participant_ids: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    comments: tuple[Comment, ...] = ()
    project: str | None = None
    url: str | None = None

    def last_public_comment(self) -> Comment | None:
        public = [c for c in self.comments if c.public]
        return max(public, key=lambda c: c.created_at) if public else None


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

    def is_empty(self) -> bool:
        return self == TicketChanges()


@dataclass(frozen=True)
class TicketQuery:
    """Tickets to sweep: in one of `statuses` and not updated since `updated_before`."""

    statuses: tuple[Status, ...]
    updated_before: datetime | None = None
    project: str | None = None


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
class BulkResult:
    """Outcome of a bulk write per ticket id: None when it succeeded, else the desk's error text."""

    errors: Mapping[str, str | None]
    jobs: int

    @property
    def failed(self) -> dict[str, str]:
        return {k: v for k, v in self.errors.items() if v is not None}


class HelpdeskError(Exception):
    """Base of every connector error; `permanent` errors are never retried."""

    permanent = False


class RateLimited(HelpdeskError):
    """The desk said 429 (or 503 with Retry-After): wait `retry_after` seconds, not less."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


class Conflict(HelpdeskError):
    """The ticket changed since the snapshot the write was decided from: re-read and decide again."""


class NotFound(HelpdeskError):
    permanent = True


class AuthError(HelpdeskError):
    permanent = True


class InvalidRequest(HelpdeskError):
    """The desk rejected the request's content; retrying the same request cannot help."""

    permanent = True

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


class Unavailable(HelpdeskError):
    """A transient fault (5xx, timeout, connection refused): back off and retry."""


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

    def apply(self, ticket: Ticket, changes: TicketChanges) -> None:
        """Write `changes` (and its comment) to the ticket, guarded by `ticket.version` where possible."""
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
        """Create an issue in another project, link it to `ticket`, and comment on it (with mentions)."""
        ...

    def search(self, query: TicketQuery, cursor: str | None = None) -> SearchPage:
        """One page of tickets matching `query`; pass `next_cursor` back for the next one."""
        ...

    def bulk_apply(self, changes: Mapping[str, TicketChanges]) -> BulkResult:
        """Apply per-ticket changes in as few calls as the desk allows."""
        ...


def iter_search(desk: Helpdesk, query: TicketQuery) -> Iterator[Ticket]:
    """Every ticket matching `query`, following cursors until the desk says there are no more."""
    cursor: str | None = None
    while True:
        page = desk.search(query, cursor)
        yield from page.tickets
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Split `items` into runs of at most `size`: bulk endpoints cap how many ids one call takes."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Shared by every adapter -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeskConfig:
    """How to reach one desk and the desk-specific ids the policy refers to.

    `options` is the policy file's `desks.<desk>` section (field ids, project keys...): it is read by
    the desk's adapter only, so policy code never needs to know a vendor's field ids.
    """

    url: str
    email: str
    token: str
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 10.0


def retry_after_seconds(headers: Mapping[str, str], default: float = 60.0) -> float:
    """`Retry-After` in seconds (both desks send delta-seconds); `default` when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def error_for_status(status: int, headers: Mapping[str, str], body: Any, what: str) -> HelpdeskError:
    """The protocol error for a failed HTTP call: one mapping for every desk, so retries behave alike.

    429 (and 503 carrying Retry-After) become `RateLimited` with the server's delay, never a local guess;
    409 is `Conflict`; 5xx is transient; other 4xx are permanent and keep the desk's error body as details.
    """
    summary = _error_summary(body)
    text = f"{what}: HTTP {status}" + (f" ({summary})" if summary else "")
    if status == 429 or (status == 503 and any(k.lower() == "retry-after" for k in headers)):
        return RateLimited(retry_after_seconds(headers), text)
    if status == 409:
        return Conflict(text)
    if status == 404:
        return NotFound(text)
    if status in (401, 403):
        return AuthError(text)
    if status >= 500:
        return Unavailable(text)
    return InvalidRequest(text, body)


def _error_summary(body: Any) -> str:
    """The desk's own words for an error, short enough for a log line and `events --state failed`.

    Zendesk says `error`/`description`/`details`, Jira `errorMessages`/`errors`, JSM `errorMessage`.
    """
    if not isinstance(body, Mapping):
        return str(body or "")[:200]
    parts: list[str] = []
    for key in ("error", "description", "errorMessage"):
        if isinstance(body.get(key), str) and body[key]:
            parts.append(body[key])
    parts += [str(m) for m in body.get("errorMessages") or []]
    for source in (body.get("errors"), body.get("details")):
        if isinstance(source, Mapping):
            parts += [f"{k}: {v}" for k, v in source.items()]
    return "; ".join(parts)[:300]


class JsonApi:
    """One desk's HTTP session: auth, timeouts, errors mapped to this module's, and no retried writes.

    Every adapter (and the vendor client it wraps, which is handed this session) talks through it, so
    a 429 surfaces at once as `RateLimited` instead of the client sleeping inside a worker, and a write
    that may have landed is never sent a second time by the transport (only reads retry a failed
    connection).
    """

    def __init__(
        self,
        base_url: str,
        auth: tuple[str, str],
        timeout: float = 10.0,
        read_retries: int = 2,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=read_retries,
            connect=read_retries,
            read=0,
            status=0,
            allowed_methods={"GET", "HEAD"},
            respect_retry_after_header=False,  # a 429 goes straight to the task layer, which waits it out
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.hooks["response"].append(self._raise_for_status)
        self._observers: list[Callable[[int], None]] = []

    def observe(self, callback: Callable[[int], None]) -> None:
        """Call `callback(status)` for every answer of this session (0 when none came), e.g. for metrics.

        It runs before errors are raised, so 429s and 5xx are seen, including calls a vendor client makes.
        """
        self._observers.append(callback)
        self.session.hooks["response"].insert(0, lambda resp, *a, **k: callback(resp.status_code))

    @staticmethod
    def _raise_for_status(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.status_code < 400:
            return
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text[:500]
        what = f"{resp.request.method} {urlsplit(resp.url).path}"
        raise error_for_status(resp.status_code, resp.headers, body, what)

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """The JSON answer of `method path` (None for an empty body); transport failures are `Unavailable`."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            # A vendor client's session may apply its own timeout (jira's does); otherwise ours.
            if getattr(self.session, "timeout", None):
                resp = self.session.request(method, url, params=params, json=json)
            else:
                resp = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            for callback in self._observers:
                callback(0)
            raise Unavailable(f"{method} {path}: {exc}") from exc
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise Unavailable(f"{method} {path}: answer is not JSON") from exc


# --- Webhook intake primitives shared by every desk's `webhook.py` ---------------------------------


class WebhookRejected(Exception):
    """A delivery refused with an HTTP status and a reason the sender (and our metrics) can read."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Ignored:
    """A well-formed delivery the bot deliberately does not act on (answered 200 with the reason)."""

    reason: str


def hmac_sha256(secret: str, message: bytes) -> bytes:
    """HMAC-SHA256 keyed with the secret's text as given (neither desk base64-decodes it)."""
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def same_digest(expected: bytes | str, given: bytes | str) -> bool:
    """Constant-time comparison, so response timing leaks nothing about the expected signature."""
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)
