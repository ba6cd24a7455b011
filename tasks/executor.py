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
from datetime import datetime
from typing import Any

import redis

from bot.domain.actions import (
    Action,
    AddParticipants,
    Assign,
    Comment,
    CreateLinkedBug,
    PostChat,
    RecordFeedback,
    RecordStep,
    Resolve,
    SetFields,
    SetPriority,
    SetReporter,
    SetRequestType,
    SetStatus,
    Tag,
)
from bot.domain.decisions import Decision, RunbookResult
from bot.domain.errors import Conflict, HelpdeskError, InvalidRequest, Unavailable
from bot.domain.tickets import Comment as TicketComment
from bot.domain.tickets import NewComment, Person, Status, Ticket, TicketChanges, Visibility
from connectors.base import Helpdesk
from connectors.feedback.records import Feedback, FeedbackTarget

PLAN_TTL = 7 * 86400
PLAN_VERSION = 2
ONCE_TTL = 400 * 86400
"""How long the record of a `once` chat message is kept: longer than any ticket stays open."""


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


def compile_writes(
    ticket: Ticket,
    actions: Sequence[Action],
    people: People,
    *,
    atomic: bool,
    groups: bool = True,
    audit_field: bool = False,
) -> list[TicketChanges]:
    """Pure: the writes that carry out `actions` on `ticket`, in the order they must be sent.

    `groups` says whether the desk keeps an assignment group on the ticket (Jira does not: an Assign's group
    only says whose agents were candidates). With `audit_field` the desk keeps the bot's audit notes in a
    field, so they ride in the first write instead of costing a comment each (one update carries one
    comment). Only what differs from the snapshot is written, so re-running a decision on a ticket that
    already has its effect writes nothing.
    """
    main: dict[str, Any] = {}
    participants: list[str] = []
    tags: list[str] = []
    untag: list[str] = []
    fields: dict[str, Any] = {}
    public: list[Comment] = []
    internal: list[Comment] = []
    audit: list[str] = []
    for action in actions:
        if isinstance(action, Assign):
            if action.agent_id and action.agent_id != ticket.assignee_id:
                main["assignee_id"] = action.agent_id
            if groups and action.group_id and action.group_id != ticket.group_id:
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
        elif isinstance(action, SetPriority):
            if action.priority and action.priority != ticket.priority:
                main["priority"] = action.priority
        elif isinstance(action, Resolve):
            if ticket.status not in (Status.SOLVED, Status.CLOSED):
                main["status"] = Status.SOLVED
                main["resolution"] = action.resolution
        elif isinstance(action, Tag):
            tags.extend(t for t in action.add if t not in ticket.tags)
            untag.extend(t for t in action.remove if t in ticket.tags)
        elif isinstance(action, RecordStep):
            if action.value != ticket.followup_state:
                main["followup_state"] = action.value
        elif isinstance(action, SetFields):
            fields.update({k: v for k, v in action.fields.items() if ticket.custom_fields.get(k) != v})
        elif isinstance(action, Comment) and action.audit and audit_field:
            audit.append(action.body)
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
        remove_tags=tuple(dict.fromkeys(untag)) if atomic else (),
        comment=NewComment(first.body, first.visibility) if first else None,
        audit_note="\n\n".join(audit) or None,
    )
    writes = [head] if not head.is_empty() else []
    writes += [TicketChanges(comment=NewComment(c.body, c.visibility)) for c in comments]
    if (tags or untag) and not atomic:
        writes.append(TicketChanges(add_tags=tuple(tags), remove_tags=tuple(dict.fromkeys(untag))))
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
        elif key == "audit_note":
            body = value.replace("\n", " ")
            parts.append(f"audit field {body[:70]!r}{'…' if len(body) > 70 else ''}")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


@dataclass
class PlannedWrite:
    """One call of a plan and whether it landed. `kind` is what to do:

    - `update`: `payload` is a `TicketChanges` (as JSON) for the plan's ticket on `desk`;
    - `create_linked_issue`: create (or find) the issue a `CreateLinkedBug` asks for on `desk`; its key and
      URL are kept in `result` for the note that follows;
    - `note_linked_issue`: an internal note on the plan's ticket naming the issue the previous write made;
    - `record_feedback`: record the ticket's feedback in the feedback tool (found, else created); `result`
      keeps the record's reference and URL;
    - `chat`: a message to a chat channel (`payload`: channel, text, thread_key), sent at most once: `result`
      records the attempt before the post, and a resumed plan that finds an attempt without its `done` mark (the
      worker died mid-post) skips it rather than risk a second message to the customer.
    """

    kind: str
    desk: str
    payload: dict[str, Any]
    done: bool = False
    result: dict[str, Any] | None = None
    ticket_id: str | None = None
    """Another ticket than the plan's (a bug's status written to its support ticket); None: the plan's."""


@dataclass
class Plan:
    """The writes of one runbook for one event (or sweep of a ticket), stored before the first is sent."""

    runbook: str
    writes: list[PlannedWrite]
    result: RunbookResult
    version: int = PLAN_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "runbook": self.runbook,
                "writes": [vars(w) for w in self.writes],  # JSON-ready fields: no deep copy needed
                "result": self.result.to_dict(),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        data = json.loads(text)
        if int(data.get("version") or 1) >= 2:
            return cls(
                runbook=data["runbook"],
                writes=[PlannedWrite(**w) for w in data["writes"]],
                result=RunbookResult.from_dict(data["result"]),
                version=int(data["version"]),
            )
        # Version 1 (triage only): {"writes": [{"changes", "done"}], "actions", "decision"}.
        legacy = Decision.from_dict(data.get("decision") or {"actions": data.get("actions") or []})
        return cls(
            runbook="triage",
            writes=[PlannedWrite("update", "", w["changes"], bool(w["done"])) for w in data["writes"]],
            result=legacy.runbooks[0],
            version=1,
        )


class PlanStore:
    """The writes of one runbook run and how far they got, in Redis (see module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.prefix = client, prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}plan:{key}"

    def load(self, key: str) -> Plan | None:
        raw = self.r.get(self._key(key))
        return Plan.from_json(raw) if raw else None

    def save(self, key: str, plan: Plan) -> None:
        self.r.set(self._key(key), plan.to_json(), ex=PLAN_TTL)

    def load_many(self, keys: Sequence[str]) -> dict[str, Plan]:
        """The stored plans among `keys`, in one round trip."""
        raws = self.r.mget([self._key(k) for k in keys]) if keys else []
        return {k: Plan.from_json(raw) for k, raw in zip(keys, raws, strict=True) if raw}

    def save_many(self, plans: dict[str, Plan]) -> None:
        """Several plans in one round trip (a bulk job's hundred tickets)."""
        pipe = self.r.pipeline(transaction=False)
        for key, plan in plans.items():
            pipe.set(self._key(key), plan.to_json(), ex=PLAN_TTL)
        pipe.execute()

    def drop(self, key: str) -> None:
        self.r.delete(self._key(key))

    def done_once(self, once: str) -> bool:
        """Whether the message named `once` (an escalation alert) was posted by any earlier plan."""
        return bool(self.r.exists(f"{self.prefix}once:{once}"))

    def mark_once(self, once: str) -> None:
        self.r.set(f"{self.prefix}once:{once}", "1", ex=ONCE_TTL)


def plan_writes(
    ticket: Ticket,
    actions: Sequence[Action],
    people: People,
    *,
    atomic: bool,
    groups: bool = True,
    audit_field: bool = False,
) -> list[PlannedWrite]:
    """Pure: every write the actions need, in order — linked issues on other desks first (their notes
    follow them), then the ticket's own writes (see `compile_writes`)."""
    out: list[PlannedWrite] = []
    for action in actions:
        if isinstance(action, CreateLinkedBug):
            out.append(
                PlannedWrite(
                    "create_linked_issue",
                    action.desk or ticket.desk,
                    {
                        "project": action.project,
                        "summary": action.summary,
                        "description": action.description,
                        "issue_type": action.issue_type,
                        "comment": action.comment,
                        "mention_email": action.mention_email,
                    },
                )
            )
            out.append(PlannedWrite("note_linked_issue", ticket.desk, {"text": action.note}))
        elif isinstance(action, RecordFeedback):
            out.append(PlannedWrite("record_feedback", "feedback", {"title": action.title, "text": action.text}))
    own = [a for a in actions if not isinstance(a, CreateLinkedBug | PostChat | RecordFeedback)]
    out += [
        PlannedWrite("update", ticket.desk, changes_to_json(w))
        for w in compile_writes(ticket, own, people, atomic=atomic, groups=groups, audit_field=audit_field)
    ]
    # Chat last: only once the ticket's own (version-guarded) write landed does the customer get the message.
    out += [
        PlannedWrite("chat", "chat", {"channel": a.channel, "text": a.text, "thread_key": a.thread_key, "once": a.once})
        for a in actions
        if isinstance(a, PostChat)
    ]
    return out


def describe_planned(write: PlannedWrite) -> str:
    if write.kind == "update":
        return describe_write(changes_from_json(write.payload))
    if write.kind == "create_linked_issue":
        what = f"{write.payload['issue_type']} in {write.payload['project']}"
        return f"{write.desk}: create {what} {write.payload['summary']!r}"
    if write.kind == "record_feedback":
        return f"feedback tool: record {write.payload['title']!r} (unless the ticket's record exists)"
    if write.kind == "chat":
        text = " ".join(write.payload["text"].split())
        return f"chat {write.payload['channel']}: {text[:70]!r}{'…' if len(text) > 70 else ''}"
    return f"internal comment {write.payload['text']!r} + the linked issue's key and URL"


ChatPost = Callable[[str, str, str | None], object]
"""(channel, text, thread_key) -> posts one chat message (`connectors.chat.webhooks.ChatNotifier.post`)."""


def run_plan(
    desks: Callable[[str], Helpdesk],
    ticket: Ticket,
    plan: Plan,
    store: PlanStore,
    key: str,
    chat: ChatPost | None = None,
    feedback: Callable[[], FeedbackTarget | None] | None = None,
) -> int:
    """Send the plan's remaining writes in order; returns how many were sent now.

    The first update of the ticket is guarded by the snapshot's version. A Conflict there means the
    snapshot is stale: the plan is dropped so the retry decides again. Later writes are the bot's own
    follow-ups to a write that already landed, so they go unguarded (a comment cannot overwrite anything).
    A linked issue is looked up before it is created, so a worker killed between the create and the
    `done` mark never makes a second one; so is a feedback record (in the tool `feedback` returns).
    """
    sent = 0
    # Only the first write to the plan's own ticket is guarded: after a linked issue's note landed, the
    # snapshot's version is the bot's own change behind it, not a person's.
    elsewhere = ("create_linked_issue", "record_feedback")
    first = next((i for i, w in enumerate(plan.writes) if w.kind not in elsewhere and not w.ticket_id), None)
    first_update = first if first is not None and plan.writes[first].kind == "update" else None
    linked: dict[str, Any] | None = None
    for index, write in enumerate(plan.writes):
        if write.done:
            linked = (write.result or linked) if write.kind in elsewhere else linked
            continue
        if write.kind == "chat":
            if not _post_chat(chat, write, plan, store, key):
                continue
        elif write.kind == "create_linked_issue":
            linked = _create_linked(desks(write.desk), ticket, write.payload)
            write.result = linked
        elif write.kind == "record_feedback":
            tool = feedback() if feedback is not None else None
            if tool is None:
                raise InvalidRequest("feedback to record, and no feedback tool configured", write.payload)
            idea = tool.record(Feedback(ticket, write.payload["title"], write.payload["text"]))
            write.result = {"key": idea.reference, "url": idea.url}
        elif write.kind == "note_linked_issue":
            if linked is None:
                raise InvalidRequest("a linked-issue note without the issue it names", write.payload)
            body = f"{write.payload['text']} {linked['key']} ({linked['url']})"
            if not any(linked["key"] in c.body for c in ticket.comments):  # noted by an earlier run already
                desks(ticket.desk).apply(replace(ticket, version=""), TicketChanges(comment=NewComment(body)))
        elif write.ticket_id:
            other = desks(write.desk).get_ticket(write.ticket_id)  # the bot's own follow-up: unguarded
            desks(write.desk).apply(replace(other, version=""), changes_from_json(write.payload))
        else:
            target = ticket if index == first_update else replace(ticket, version="")
            try:
                version = desks(ticket.desk).apply(target, changes_from_json(write.payload))
                write.result = {"version": version} if version else None
            except Conflict:
                if index == first_update:
                    store.drop(key)
                raise
        write.done = True
        store.save(key, plan)
        sent += 1
    return sent


def _post_chat(chat: ChatPost | None, write: PlannedWrite, plan: Plan, store: PlanStore, key: str) -> bool:
    """Post a planned chat message at most once; False when an earlier run may already have posted it, or (a
    message with a `once` key) any earlier plan did."""
    once = write.payload.get("once")
    if once and store.done_once(once):
        write.result = {"skipped": "posted by an earlier run"}
        write.done = True
        store.save(key, plan)
        return False
    if write.result and write.result.get("attempted"):
        write.result = {"attempted": True, "skipped": "an earlier run may have posted it"}
        write.done = True
        store.save(key, plan)
        return False
    if chat is None:
        raise InvalidRequest("a chat message in the plan but no chat notifier", write.payload)
    write.result = {"attempted": True}
    store.save(key, plan)
    try:
        chat(write.payload["channel"], write.payload["text"], write.payload.get("thread_key"))
    except Unavailable:
        raise  # no answer: it may have been posted, so the attempt stands (at most once)
    except HelpdeskError:
        write.result = None  # refused by the service (rate limit, bad request...): nothing was posted; retry
        store.save(key, plan)
        raise
    if once:
        store.mark_once(once)
    return True


def _create_linked(desk: Helpdesk, ticket: Ticket, payload: dict[str, Any]) -> dict[str, Any]:
    """The issue a `CreateLinkedBug` asks for: the one already linked to `ticket`, else a new one."""
    found = desk.find_linked_issue(ticket, project=payload["project"])
    if found is None:
        mentions: tuple[Person, ...] = ()
        if payload.get("mention_email"):
            person = desk.find_person(payload["mention_email"])
            mentions = (person,) if person else ()
        comment = NewComment(payload["comment"], Visibility.INTERNAL, mentions) if payload.get("comment") else None
        found = desk.create_linked_issue(
            ticket,
            project=payload["project"],
            summary=payload["summary"],
            description=payload["description"],
            issue_type=payload["issue_type"],
            comment=comment,
        )
    return {"key": found.key, "url": found.url}


def snapshot_after(ticket: Ticket, plan: Plan, bot: Person, at: datetime, *, guarded: bool = True) -> Ticket | None:
    """Pure: `ticket` as it is once `plan`'s writes landed, so the next runbook of the same event decides
    without reading the ticket again (one read per event, not one per runbook that wrote).

    Only a plan of plain updates to this ticket, each written by this run, qualifies: the desk's answer gave
    the ticket's new version where it guards writes (`guarded`: Zendesk), so the next runbook's write is still
    refused if a person changed the ticket meanwhile; a desk without a guard (Jira) keeps the version it had.
    Anything else (a linked issue, another ticket, a new requester whose details the desk holds, a resumed
    plan) gives None: read the ticket again.
    """
    current = ticket
    for index, write in enumerate(plan.writes):
        if write.kind == "chat" and write.done:
            continue  # a chat message leaves the ticket as it was
        if write.kind != "update" or write.ticket_id or not write.done:
            return None
        changes = changes_from_json(write.payload)
        if changes.requester_id is not None:
            return None
        version = (write.result or {}).get("version")
        if guarded and not version:
            return None  # a guarded desk that did not say the new version (or a write of an earlier run)
        current = _with_changes(current, changes, bot, at, f"{ticket.id}-planned-{index}")
        current = replace(current, version=str(version) if version else current.version)
    return current


def _with_changes(ticket: Ticket, changes: TicketChanges, bot: Person, at: datetime, comment_id: str) -> Ticket:
    tags = [t for t in (*ticket.tags, *changes.add_tags) if t not in changes.remove_tags]
    comments = ticket.comments
    if changes.comment is not None:
        comments += (TicketComment(comment_id, bot, changes.comment.body, changes.comment.visibility, at),)
    return replace(
        ticket,
        assignee_id=changes.assignee_id or ticket.assignee_id,
        group_id=changes.group_id or ticket.group_id,
        request_type=changes.request_type or ticket.request_type,
        status=changes.status or ticket.status,
        resolution=changes.resolution or ticket.resolution,
        priority=changes.priority or ticket.priority,
        tags=tuple(dict.fromkeys(tags)),
        participant_ids=tuple(dict.fromkeys((*ticket.participant_ids, *changes.add_participant_ids))),
        custom_fields={**ticket.custom_fields, **changes.custom_fields},
        comments=comments,
        updated_at=at,
    )
