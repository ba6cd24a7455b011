"""Zendesk's search query language, parsed once and matched against the sandbox's records.

`/api/v2/search.json`, `/api/v2/search/export.json` and `/api/v2/search/count.json` all take the same
`query` text, so they share this parser: a real client (zenpy's `search(type="ticket", status="pending",
updated_less_than=...)`), the bot's own sweeps and a person typing in the search box must find the same
tickets on every endpoint.

What it understands, as Zendesk documents it: `key:value`, `key<value`, `key>value`, `<=`, `>=`; a
leading `-` negates a term; `"quoted phrases"`; a trailing `*` wildcard; `type:` (ticket, user,
organization, group); repeated `:` terms on the same key are OR-ed (zenpy builds `status:"open"
status:"pending"` for a list and calls that "or"), everything else is AND-ed; `none` for an empty
property (`assignee:none`); dates as `2026-01-01` (the whole UTC day), ISO times, or relative
(`updated<2days`, `created>4hours`); `order_by:`/`sort:` inside the query. Free text matches a word or the
start of a word of the record's text, case-insensitively, as Zendesk's search does.

Matching needs to resolve people, groups and organizations by id, email or name: the sandbox passes a
`Directory`. Nothing here touches the network or the clock (`now` is passed in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

TYPES = ("ticket", "user", "organization", "group")
STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
SORTABLE = {"created": "created_at", "updated": "updated_at", "priority": "priority", "status": "status"}
SORTABLE |= {"ticket_type": "type", "created_at": "created_at", "updated_at": "updated_at"}
DATE_KEYS = {"created": "created_at", "updated": "updated_at", "created_at": "created_at", "updated_at": "updated_at"}
PEOPLE_KEYS = {"requester": "requester_id", "assignee": "assignee_id", "submitter": "submitter_id"}
RELATIVE = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}
CUSTOM_FIELD = re.compile(r"custom_field_\d+")
TOKEN = re.compile(r'(-)?(?:([A-Za-z_][\w.]*)(<=|>=|:|<|>))?("[^"]*"?|\S+)')


@dataclass(frozen=True)
class Term:
    key: str | None
    """Lower-cased property keyword, or None for free text."""
    op: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]
    types: frozenset[str] = field(default_factory=frozenset)
    """`type:` values in the query (empty: every type)."""
    sort_by: str | None = None
    sort_order: str | None = None


def parse(text: str) -> Query:
    """Split a query into terms; `type:`, `order_by:` and `sort:` become properties of the query."""
    terms: list[Term] = []
    types: set[str] = set()
    sort_by = sort_order = None
    for match in TOKEN.finditer(text or ""):
        negated, op, raw = bool(match.group(1)), match.group(3), match.group(4)
        key = (match.group(2) or "").lower() or None
        value = raw[1:].removesuffix('"') if raw.startswith('"') else raw
        if key == "type" and op == ":" and value.lower() in TYPES and not negated:
            types.add(value.lower())
        elif key == "order_by" and op == ":":
            sort_by = SORTABLE.get(value.lower(), sort_by)
        elif key == "sort" and op == ":" and value.lower() in ("asc", "desc"):
            sort_order = value.lower()
        elif value or key:
            terms.append(Term(key, op or ":", value, negated))
    return Query(tuple(terms), frozenset(types), sort_by, sort_order)


class Directory(Protocol):
    """How the desk resolves names in a query (`requester:cathy@acme.test`, `group:"Support"`)."""

    def user_ids(self, ref: str) -> set[int]: ...

    def group_ids(self, ref: str) -> set[int]: ...

    def organization_ids(self, ref: str) -> set[int]: ...

    def ticket_text(self, ticket: Mapping[str, Any]) -> str: ...


def matches(record: Mapping[str, Any], kind: str, query: Query, directory: Directory, now: datetime) -> bool:
    """Whether `record` (of type `kind`) satisfies every term; repeated `key:value` terms are alternatives."""
    if query.types and kind not in query.types:
        return False
    alternatives: dict[str, list[Term]] = {}
    for term in query.terms:
        if term.op == ":" and not term.negated and term.key is not None:
            alternatives.setdefault(term.key, []).append(term)
        elif _holds(record, kind, term, directory, now) is term.negated:
            return False
    return all(any(_holds(record, kind, t, directory, now) for t in group) for group in alternatives.values())


def sort_key(sort_by: str | None) -> Callable[[Mapping[str, Any]], Any]:
    """Ordering for `sort_by` (a record field), else by id (the sandbox's stand-in for relevance)."""
    if sort_by == "status":
        return lambda r: (_rank(STATUS_ORDER, r.get("status")), r["id"])
    if sort_by == "priority":
        return lambda r: (_rank(PRIORITY_ORDER, r.get("priority")), r["id"])
    if sort_by:
        return lambda r: (str(r.get(sort_by) or ""), r["id"])
    return lambda r: r["id"]


def _rank(order: tuple[str, ...], value: Any) -> int:
    return order.index(value) if value in order else -1


def _holds(record: Mapping[str, Any], kind: str, term: Term, directory: Directory, now: datetime) -> bool:
    key, value = term.key, term.value
    if kind == "ticket" and key and CUSTOM_FIELD.fullmatch(key):
        return _custom_field(record, term)
    if key is None or key not in _KEYS.get(kind, {}):
        text = directory.ticket_text(record) if kind == "ticket" else _record_text(record)
        return _text_match(text, f"{key}{term.op}{value}" if key else value)
    return _KEYS[kind][key](record, term, directory, now)


def _record_text(record: Mapping[str, Any]) -> str:
    parts = [record.get(k) for k in ("name", "email", "details", "notes")]
    parts += list(record.get("domain_names") or []) + list(record.get("tags") or [])
    return " ".join(str(p) for p in parts if p)


def _text_match(text: str, needle: str) -> bool:
    """A word, or the start of a word, of `text` (a phrase matches where its first word starts a word)."""
    needle = needle.lower().rstrip("*").strip()
    if not needle:
        return True
    return re.search(r"(?<!\w)" + re.escape(needle), text.lower()) is not None


def _ordered(order: tuple[str, ...], field_name: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        actual, wanted = record.get(field_name), term.value.lower()
        if wanted == "none" and term.op == ":":
            return actual is None
        if actual not in order or wanted not in order:
            return False
        return _compare(order.index(actual), term.op, order.index(wanted))

    return check


def _compare(actual: int, op: str, wanted: int) -> bool:
    return {
        ":": actual == wanted,
        "<": actual < wanted,
        ">": actual > wanted,
        "<=": actual <= wanted,
        ">=": actual >= wanted,
    }[op]


def _date(field_name: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        stamp = _parse_time(str(record.get(field_name) or ""))
        span = _time_span(term.value, now)
        if stamp is None or span is None:
            return False
        start, end = span
        return {
            ":": start <= stamp < end,
            "<": stamp < start,
            "<=": stamp < end,
            ">": stamp >= end,
            ">=": stamp >= start,
        }[term.op]

    return check


@lru_cache(maxsize=65536)  # a search compares every record's stamps: the same few thousand strings recur
def _parse_time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


@lru_cache(maxsize=1024)  # one query value, parsed once per search instead of once per record
def _time_span(value: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The instant range a date value names: a day is the whole (UTC) day, a time or a relative age
    (`2days`, `4hours`: that long before `now`) one instant."""
    relative = re.fullmatch(r"(\d+)\s*(minute|hour|day|week|month|year)s?", value.lower())
    if relative:
        instant = now - timedelta(seconds=int(relative.group(1)) * RELATIVE[relative.group(2)])
        return instant, instant
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day, day + timedelta(days=1)
    exact = _parse_time(value)
    return (exact, exact) if exact else None


def _people(field_name: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        actual = record.get(field_name)
        if term.value.lower() == "none":
            return actual is None
        return actual is not None and int(actual) in directory.user_ids(term.value)

    return check


def _ref(field_name: str, resolve: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        actual = record.get(field_name)
        if term.value.lower() == "none":
            return actual is None
        ids: set[int] = getattr(directory, resolve)(term.value)
        return actual is not None and int(actual) in ids

    return check


def _tags(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
    tags = [str(t).lower() for t in record.get("tags") or []]
    if term.value.lower() == "none":
        return not tags
    wanted = term.value.lower()
    if wanted.endswith("*"):
        return any(t.startswith(wanted[:-1]) for t in tags)
    return wanted in tags


def _field_text(*names: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        return _text_match(" ".join(str(record.get(n) or "") for n in names), term.value)

    return check


def _equals(field_name: str) -> Callable[[Mapping[str, Any], Term, Directory, datetime], bool]:
    def check(record: Mapping[str, Any], term: Term, directory: Directory, now: datetime) -> bool:
        actual = record.get(field_name)
        if term.value.lower() == "none":
            return actual in (None, "")
        return str(actual).lower() == term.value.lower()

    return check


Matcher = Callable[[Mapping[str, Any], Term, Directory, datetime], bool]


def _common() -> dict[str, Matcher]:
    return {key: _date(field_name) for key, field_name in DATE_KEYS.items()}


_KEYS: dict[str, dict[str, Matcher]] = {
    "ticket": {
        **_common(),
        "status": _ordered(STATUS_ORDER, "status"),
        "priority": _ordered(PRIORITY_ORDER, "priority"),
        "ticket_type": _equals("type"),
        "tags": _tags,
        "tag": _tags,
        "group": _ref("group_id", "group_ids"),
        "organization": _ref("organization_id", "organization_ids"),
        "subject": _field_text("subject"),
        "description": _field_text("description"),
        "via": lambda r, t, d, n: str((r.get("via") or {}).get("channel")).lower() == t.value.lower(),
        **{key: _people(field_name) for key, field_name in PEOPLE_KEYS.items()},
    },
    "user": {
        **_common(),
        "name": _field_text("name"),
        "email": _equals("email"),
        "role": _equals("role"),
        "tags": _tags,
        "tag": _tags,
        "organization": _ref("organization_id", "organization_ids"),
        "external_id": _equals("external_id"),
    },
    "organization": {
        **_common(),
        "name": _field_text("name"),
        "tags": _tags,
        "tag": _tags,
    },
    "group": {**_common(), "name": _field_text("name")},
}


def _custom_field(record: Mapping[str, Any], term: Term) -> bool:
    """`custom_field_<id>:value` on a ticket (`none`: the field is empty)."""
    values = [f.get("value") for f in record.get("custom_fields") or [] if f"custom_field_{f.get('id')}" == term.key]
    if term.value.lower() == "none":
        return all(v in (None, "") for v in values)
    return any(str(v).lower() == term.value.lower() for v in values)
