"""Turn decided actions into desk writes, and perform them exactly once.

Compiling (actions → writes) is pure; resolving people (emails → desk ids) and writing are I/O.
The writes of one event are stored as a *plan* in Redis before the first one is sent, each marked
done as it succeeds. A retried task (rate limit, worker killed, transient error) resumes the plan where
it stopped instead of deciding again, so nothing is written twice and nothing is dropped; only when the
first, version-guarded write meets a `Conflict` (a human changed the ticket) is the plan dropped and the
decision made again from a fresh snapshot.

Write order: the main write first (fields, assignee, participants, the customer-visible comment and,
where the desk writes all of it atomically, the triaged tag), then internal notes, then — on desks whose
write is several calls — the triaged tag last, so a ticket is only marked triaged once all is done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import redis

from bot.policy.actions import (
    Action,
    AddParticipants,
    Assign,
    Comment,
    Resolve,
    SetFields,
    SetReporter,
    SetRequestType,
    SetStatus,
    Tag,
)
from connectors.base import Conflict, Helpdesk, NewComment, Status, Ticket, TicketChanges, Visibility

PLAN_TTL = 7 * 86400


@dataclass(frozen=True)
class People:
    """Desk ids for the emails the actions name (resolved, or created as customers, before compiling)."""

    ids: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def emails_needed(actions: Sequence[Action]) -> list[str]:
    out: list[str] = []
    for action in actions:
        if isinstance(action, SetReporter) and action.email:
            out.append(action.email.lower())
        elif isinstance(action, AddParticipants):
            out.extend(e.lower() for e in action.emails)
    return list(dict.fromkeys(out))


class PeopleCache:
    """Desk ids of people already found by email, reused for a few minutes by one worker process.

    The same few people come up ticket after ticket (an organization's account manager in CC, colleagues
    who forward mail): without this, each of those tickets costs one more user search on the desk.
    Only people found are kept; an email not found is asked again next time (they may have been created).
    """

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._ids: dict[tuple[str, str], tuple[float, str]] = {}

    def get(self, desk: str, email: str) -> str | None:
        hit = self._ids.get((desk, email))
        return hit[1] if hit and self.clock() - hit[0] < self.ttl else None

    def put(self, desk: str, email: str, person_id: str) -> None:
        self._ids[(desk, email)] = (self.clock(), person_id)


def resolve_people(
    desk: Helpdesk, actions: Sequence[Action], *, create: bool, cache: PeopleCache | None = None
) -> People:
    """Look up (and with `create`, create as customers) everyone the actions name by email."""
    names = {a.email.lower(): a.name for a in actions if isinstance(a, SetReporter)}
    ids: dict[str, str] = {}
    missing: list[str] = []
    for email in emails_needed(actions):
        known = cache.get(desk.name, email) if cache else None
        if known is not None:
            ids[email] = known
            continue
        person = desk.find_person(email, create=create, name=names.get(email))
        if person is None:
            missing.append(email)
        else:
            ids[email] = person.id
            if cache is not None:
                cache.put(desk.name, email, person.id)
    return People(ids, tuple(missing))


def compile_writes(ticket: Ticket, actions: Sequence[Action], people: People, *, atomic: bool) -> list[TicketChanges]:
    """Pure: the writes that carry out `actions` on `ticket`, in the order they must be sent.

    Only what differs from the snapshot is written, so re-running a decision on a ticket that already
    has its effect writes nothing.
    """
    main: dict[str, Any] = {}
    participants: list[str] = []
    tags: list[str] = []
    fields: dict[str, Any] = {}
    public: list[Comment] = []
    internal: list[Comment] = []
    for action in actions:
        if isinstance(action, Assign):
            if action.agent_id and action.agent_id != ticket.assignee_id:
                main["assignee_id"] = action.agent_id
            if action.group_id and action.group_id != ticket.group_id:
                main["group_id"] = action.group_id
        elif isinstance(action, SetRequestType):
            if action.request_type and action.request_type != ticket.request_type:
                main["request_type"] = action.request_type
        elif isinstance(action, SetReporter):
            person_id = people.ids.get(action.email.lower())
            if person_id and person_id != ticket.requester.id:
                main["requester_id"] = person_id
                if ticket.requester.id not in ticket.participant_ids:
                    participants.append(ticket.requester.id)  # the forwarding colleague stays in the loop
        elif isinstance(action, AddParticipants):
            wanted = [people.ids[e.lower()] for e in action.emails if e.lower() in people.ids]
            wanted += list(action.person_ids)
            participants.extend(p for p in wanted if p not in ticket.participant_ids)
        elif isinstance(action, SetStatus):
            if action.status != ticket.status:
                main["status"] = action.status
        elif isinstance(action, Resolve):
            if ticket.status not in (Status.SOLVED, Status.CLOSED):
                main["status"] = Status.SOLVED
                main["resolution"] = action.resolution
        elif isinstance(action, Tag):
            tags.extend(t for t in action.add if t not in ticket.tags)
        elif isinstance(action, SetFields):
            fields.update({k: v for k, v in action.fields.items() if ticket.custom_fields.get(k) != v})
        elif isinstance(action, Comment):
            (public if action.visibility is Visibility.PUBLIC else internal).append(action)
    new_requester = main.get("requester_id")
    participants = [p for p in dict.fromkeys(participants) if p != new_requester]
    comments = public + internal
    first = comments.pop(0) if comments else None
    head = TicketChanges(
        **main,
        add_participant_ids=tuple(participants),
        custom_fields=fields,
        add_tags=tuple(tags) if atomic else (),
        comment=NewComment(first.body, first.visibility) if first else None,
    )
    writes = [head] if not head.is_empty() else []
    writes += [TicketChanges(comment=NewComment(c.body, c.visibility)) for c in comments]
    if tags and not atomic:
        writes.append(TicketChanges(add_tags=tuple(tags)))
    return writes


def changes_to_json(changes: TicketChanges) -> dict[str, Any]:
    data = asdict(changes)
    if changes.status is not None:
        data["status"] = changes.status.value
    if changes.comment is not None:
        data["comment"] = {"body": changes.comment.body, "visibility": changes.comment.visibility.value}
    return data


def changes_from_json(data: dict[str, Any]) -> TicketChanges:
    data = dict(data)
    if data.get("status"):
        data["status"] = Status(data["status"])
    if data.get("comment"):
        data["comment"] = NewComment(data["comment"]["body"], Visibility(data["comment"]["visibility"]))
    for key in ("add_participant_ids", "add_tags", "remove_tags"):
        data[key] = tuple(data.get(key) or ())
    return TicketChanges(**data)


def describe_write(changes: TicketChanges) -> str:
    """One line a person can read in dry-run output and the audit trail."""
    parts = []
    for key, value in changes_to_json(changes).items():
        if value in (None, (), [], {}, ""):
            continue
        if key == "comment":
            body = value["body"].replace("\n", " ")
            parts.append(f"{value['visibility']} comment {body[:70]!r}{'…' if len(body) > 70 else ''}")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


class PlanStore:
    """The writes of one event and how far they got, in Redis (see module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.prefix = client, prefix

    def _key(self, event_id: str) -> str:
        return f"{self.prefix}plan:{event_id}"

    def load(self, event_id: str) -> dict[str, Any] | None:
        raw = self.r.get(self._key(event_id))
        return json.loads(raw) if raw else None

    def save(self, event_id: str, plan: dict[str, Any]) -> None:
        self.r.set(self._key(event_id), json.dumps(plan, ensure_ascii=False), ex=PLAN_TTL)

    def drop(self, event_id: str) -> None:
        self.r.delete(self._key(event_id))


def new_plan(writes: Sequence[TicketChanges], actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"writes": [{"changes": changes_to_json(w), "done": False} for w in writes], "actions": list(actions)}


def run_plan(desk: Helpdesk, ticket: Ticket, plan: dict[str, Any], store: PlanStore, event_id: str) -> int:
    """Send the plan's remaining writes in order; returns how many were sent now.

    The first write is guarded by the snapshot's version. A Conflict there means the snapshot is stale:
    the plan is dropped so the retry decides again. Later writes are the bot's own follow-ups to a
    write that already landed, so they go unguarded (a comment cannot overwrite anything).
    """
    sent = 0
    for index, write in enumerate(plan["writes"]):
        if write["done"]:
            continue
        changes = changes_from_json(write["changes"])
        target = ticket if index == 0 else replace(ticket, version="")
        try:
            desk.apply(target, changes)
        except Conflict:
            if index == 0:
                store.drop(event_id)
            raise
        write["done"] = True
        store.save(event_id, plan)
        sent += 1
    return sent
