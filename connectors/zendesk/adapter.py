"""The `Helpdesk` protocol over Zendesk Support: zenpy for what it models well, its session for the rest.

Both go through one `JsonApi` session, so errors are mapped in one place and zenpy never sleeps on a
429 inside a worker (the session raises `RateLimited` with Zendesk's `Retry-After` before zenpy sees it).
Every write decided from a snapshot is a `safe_update` carrying the snapshot's `updated_at`, so a human's
change in between turns the write into `Conflict` instead of being overwritten.

Options: `ZendeskOptions` (`connectors/zendesk/options.py`, the policy's `desks.zendesk`), received as given.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from zenpy import Zenpy
from zenpy.lib.exception import APIException, ZenpyException

from bot.domain.errors import InvalidRequest, NotFound, Unavailable
from bot.domain.tickets import (
    AgentLoad,
    BulkJob,
    BulkResult,
    Comment,
    LinkedIssue,
    NewComment,
    Person,
    Role,
    SearchPage,
    Status,
    StatusChange,
    Ticket,
    TicketChanges,
    TicketQuery,
    Visibility,
)
from connectors.base import DeskConfig, TtlCache, chunked
from connectors.http import JsonApi, error_for_status
from connectors.zendesk.options import ZendeskOptions

TO_STATUS = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "pending": Status.PENDING,
    "hold": Status.ON_HOLD,
    "solved": Status.SOLVED,
    "closed": Status.CLOSED,
}
FROM_STATUS = {v: k for k, v in TO_STATUS.items()}
WAITING = ("pending", "hold")
"""Zendesk statuses whose tickets get their status history read (see `ZendeskDesk._status_changes`)."""
BULK_LIMIT = 100
"""`tickets/update_many` takes at most 100 tickets per call (more is 400 TooManyValues)."""
EXPORT_PAGE = 1000
"""The export's largest page: a sweep reads a 100,000-ticket desk in 100 calls."""
MAX_JOBS = 30
"""Zendesk runs at most 30 background jobs of an account at a time: a bulk write waits for its jobs every 30."""
SANDBOX_HOST = "sandbox.zendesk.invalid"


class _Rebase(BaseAdapter):
    """Sends zenpy's `https://<subdomain>.zendesk.com` URLs to a desk at another address (the sandbox).

    zenpy builds every URL from a subdomain; a desk at `http://127.0.0.1:8001` has none, so zenpy is
    given a placeholder host and this transport rewrites it, leaving zenpy itself unchanged. The rewritten
    request goes out through the session's own transport, so it is held to the same budget as any other.
    """

    def __init__(self, target: str, inner: BaseAdapter) -> None:
        super().__init__()
        self.target = target.rstrip("/")
        self.inner = inner

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        rebased = request.copy()
        rebased.url = self.target + (request.url or "")[len(f"https://{SANDBOX_HOST}") :]
        response = self.inner.send(rebased, *args, **kwargs)
        response.request = request  # zenpy picks its response handler by the URL it asked for
        return response

    def close(self) -> None:
        self.inner.close()


def build(config: DeskConfig) -> ZendeskDesk:
    return ZendeskDesk(config)


class ZendeskDesk:
    name = "zendesk"
    atomic_writes = True
    """One ticket update carries fields, comment and tags together, all or nothing."""
    guards_writes = True
    """A write carries the snapshot's `updated_at` (`safe_update`): a change made meanwhile makes it `Conflict`."""

    def __init__(self, config: DeskConfig) -> None:
        self.api = JsonApi(config.url, (f"{config.email}/token", config.token), config.timeout, gate=config.gate)
        host = urlsplit(config.url).hostname or ""
        if host.endswith(".zendesk.com") and config.url.startswith("https://"):
            subdomain, domain = host.split(".", 1)
        else:
            subdomain, domain = SANDBOX_HOST.split(".", 1)
            self.api.session.mount(f"https://{SANDBOX_HOST}", _Rebase(config.url, self.api.transport))
        self.zenpy = Zenpy(
            subdomain=subdomain,
            domain=domain,
            email=config.email,
            token=config.token,
            session=self.api.session,
            timeout=config.timeout,
        )
        options = ZendeskOptions.of(config.options)
        self.request_type_field = options.request_type_field
        self.away_field = options.away_field
        self.resolution_field = options.resolution_field
        self.followup_field = options.followup_field
        self.audit_field = options.audit_field
        self._me: Person | None = None
        self._groups: TtlCache[str, list[Person]] = TtlCache(options.group_cache_seconds)

    # --- reads -------------------------------------------------------------------------------------

    def me(self) -> Person:
        if self._me is None:
            with _zenpy_errors("GET /api/v2/users/me.json"):
                user = self.zenpy.users.me()
            self._me = Person(str(user.id), user.name, user.email, Role.BOT, _sid(user.organization_id))
        return self._me

    def _person(self, user: Mapping[str, Any]) -> Person:
        bot = self.me()
        if str(user["id"]) == bot.id:
            role = Role.BOT
        else:
            role = Role.CUSTOMER if user.get("role") == "end-user" else Role.AGENT
        away = bool(self.away_field and (user.get("user_fields") or {}).get(self.away_field))
        return Person(
            id=str(user["id"]),
            name=str(user.get("name") or ""),
            email=user.get("email"),
            role=role,
            organization_id=_sid(user.get("organization_id")),
            available=bool(user.get("active", True)) and not away,
        )

    def get_ticket(self, ticket_id: str) -> Ticket:
        """One call for a ticket with a single comment (its description), two when it has more."""
        data = self.api.call(
            "GET", f"/api/v2/tickets/{_number(ticket_id, 'ticket')}.json", params={"include": "users,comment_count"}
        )
        raw = data["ticket"]
        users = {str(u["id"]): self._person(u) for u in data.get("users") or []}
        requester = users.get(str(raw["requester_id"])) or Person(str(raw["requester_id"]), "")
        if int(raw.get("comment_count") or 0) <= 1:
            submitter = users.get(str(raw["submitter_id"])) or requester
            visibility = Visibility.PUBLIC if raw.get("is_public", True) else Visibility.INTERNAL
            comments: tuple[Comment, ...] = (
                Comment(
                    f"{raw['id']}-description",
                    submitter,
                    raw.get("description") or "",
                    visibility,
                    _time(raw["created_at"]),
                ),
            )
        else:
            comments = self._comments(raw["id"], users)
        changes = self._status_changes(raw["id"]) if raw.get("status") in WAITING else ()
        return replace(self._ticket(raw, requester, comments), status_changes=changes)

    def _status_changes(self, ticket_id: int) -> tuple[StatusChange, ...]:
        """The status moves of the ticket's audits, oldest first. Read only for a waiting ticket (pending, on
        hold), where the follow-up ladder counts from the last move into waiting: one call per 100 audits."""
        out: list[StatusChange] = []
        url: str | None = f"/api/v2/tickets/{ticket_id}/audits.json"
        params: dict[str, Any] | None = {"page[size]": 100}
        while url:
            page = self.api.call("GET", url, params=params)
            for audit in page.get("audits") or []:
                by = self._role(audit.get("author_id"))
                for event in audit.get("events") or []:
                    if event.get("field_name") != "status" or event.get("type") not in ("Change", "Create"):
                        continue
                    status = TO_STATUS.get(str(event.get("value")))
                    if status is not None:
                        before = TO_STATUS.get(str(event.get("previous_value")))
                        out.append(StatusChange(_time(audit["created_at"]), status, before, by))
            url = (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else None
            params = None
        return tuple(sorted(out, key=lambda c: c.at))

    def _role(self, user_id: Any) -> Role | None:
        """The bot's own audits are known by its id; others' roles would cost a user read each, so they stay
        unknown (None) unless the author is the bot."""
        if user_id in (None, -1):
            return None
        return Role.BOT if str(user_id) == self.me().id else None

    def _comments(self, ticket_id: int, users: dict[str, Person]) -> tuple[Comment, ...]:
        out: list[Comment] = []
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: dict[str, Any] | None = {"include": "users", "page[size]": 100}
        while url:
            page = self.api.call("GET", url, params=params)
            users.update({str(u["id"]): self._person(u) for u in page.get("users") or []})
            for c in page["comments"]:
                author = users.get(str(c["author_id"])) or Person(str(c["author_id"]), "")
                visibility = Visibility.PUBLIC if c.get("public") else Visibility.INTERNAL
                subject, headers = mail_metadata(c.get("metadata"))
                out.append(
                    Comment(
                        str(c["id"]), author, c.get("body") or "", visibility, _time(c["created_at"]), subject, headers
                    )
                )
            url = (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else None
            params = None
        return tuple(out)

    def _ticket(self, raw: Mapping[str, Any], requester: Person, comments: tuple[Comment, ...]) -> Ticket:
        custom = {str(f["id"]): f.get("value") for f in raw.get("custom_fields") or []}
        return Ticket(
            desk=self.name,
            id=str(raw["id"]),
            subject=raw.get("subject") or "",
            description=raw.get("description") or "",
            status=TO_STATUS.get(raw.get("status") or "new", Status.OPEN),
            requester=requester,
            created_at=_time(raw["created_at"]),
            updated_at=_time(raw["updated_at"]),
            version=str(raw["updated_at"]),
            priority=raw.get("priority"),
            assignee_id=_sid(raw.get("assignee_id")),
            group_id=_sid(raw.get("group_id")),
            request_type=custom.get(str(self.request_type_field)) if self.request_type_field else None,
            organization_id=_sid(raw.get("organization_id")),
            channel=((raw.get("via") or {}).get("channel") or "web"),
            form=_sid(raw.get("ticket_form_id")),
            tags=tuple(raw.get("tags") or ()),
            participant_ids=tuple(
                str(i) for i in dict.fromkeys([*(raw.get("email_cc_ids") or []), *(raw.get("follower_ids") or [])])
            ),
            custom_fields=custom,
            comments=comments,
            followup_state=(custom.get(str(self.followup_field)) or None) if self.followup_field else None,
            url=f"{self.api.base_url}/agent/tickets/{raw['id']}",  # where agents open it (`url` is the API's)
        )

    def find_person(self, email: str, *, create: bool = False, name: str | None = None) -> Person | None:
        found = self.api.call("GET", "/api/v2/users/search.json", params={"query": f"email:{email}"})
        users = [u for u in found.get("users") or [] if (u.get("email") or "").lower() == email.lower()]
        if users:
            return self._person(users[0])
        if not create:
            return None
        made = self.api.call(
            "POST", "/api/v2/users.json", json={"user": {"email": email, "name": name or email, "role": "end-user"}}
        )
        return self._person(made["user"])

    def group_agents(self, group_id: str, *, with_load: bool = True) -> list[AgentLoad]:
        """Members of the group (cached briefly: membership changes rarely), with open tickets counted."""
        members = self.group_members(group_id)
        return [AgentLoad(agent, self._open_count(agent.id) if with_load else 0) for agent in members]

    def group_members(self, group_id: str) -> list[Person]:
        return self._groups.get(group_id, lambda: self._read_members(group_id))

    def _read_members(self, group_id: str) -> list[Person]:
        members: list[Person] = []
        url: str | None = f"/api/v2/groups/{_number(group_id, 'group')}/memberships.json"
        params: dict[str, Any] | None = {"include": "users", "page[size]": 100}
        while url:
            page = self.api.call("GET", url, params=params)
            members += [self._person(u) for u in page.get("users") or [] if u.get("role") in ("agent", "admin")]
            url = (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else None
            params = None
        return members

    def _open_count(self, agent_id: str) -> int:
        query = f"type:ticket assignee:{agent_id} status<solved"
        return int(self.api.call("GET", "/api/v2/search/count.json", params={"query": query})["count"])

    # --- writes ------------------------------------------------------------------------------------

    def _payload(self, changes: TicketChanges) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("assignee_id", "group_id", "requester_id"):
            value = getattr(changes, key)
            if value is not None:
                out[key] = _number(value, key.removesuffix("_id"))
        if changes.status is not None:
            out["status"] = FROM_STATUS[changes.status]
        if changes.priority is not None:
            out["priority"] = changes.priority
        tags = list(changes.add_tags)
        fields = dict(changes.custom_fields)
        if changes.resolution is not None:
            if self.resolution_field is not None:
                fields[str(self.resolution_field)] = changes.resolution
            else:
                tags.append(resolution_tag(changes.resolution))
        if tags:
            out["additional_tags"] = tags
        if changes.remove_tags:
            out["remove_tags"] = list(changes.remove_tags)
        if changes.followup_state is not None and self.followup_field is not None:
            fields[str(self.followup_field)] = changes.followup_state
        if changes.request_type is not None and self.request_type_field:
            fields[str(self.request_type_field)] = changes.request_type
        if changes.audit_note is not None and self.audit_field is not None:
            fields[str(self.audit_field)] = changes.audit_note
        if fields:
            out["custom_fields"] = [{"id": _number(k, "custom field"), "value": v} for k, v in fields.items()]
        if changes.add_participant_ids:
            out["email_ccs"] = [{"user_id": _number(p, "user"), "action": "put"} for p in changes.add_participant_ids]
        if changes.comment is not None:
            out["comment"] = {
                "body": _with_mentions(changes.comment),
                "public": changes.comment.visibility is Visibility.PUBLIC,
            }
        return out

    def apply(self, ticket: Ticket, changes: TicketChanges) -> str | None:
        """One `PUT`; guarded by `safe_update` unless the snapshot version is empty (a follow-up write).
        Returns the ticket's new `updated_at` from Zendesk's answer: the version a next write guards with."""
        if changes.is_empty():
            return None
        body = self._payload(changes)
        if changes.assignee_id and changes.group_id is None and changes.assignee_id != ticket.assignee_id:
            group = self._group_for(changes.assignee_id, ticket.group_id)
            if group is not None:
                body["group_id"] = group
        if ticket.version:
            body.update(safe_update=True, updated_stamp=ticket.version)
        done = self.api.call("PUT", f"/api/v2/tickets/{_number(ticket.id, 'ticket')}.json", json={"ticket": body})
        updated = ((done or {}).get("ticket") or {}).get("updated_at")
        return str(updated) if updated else None

    def _group_for(self, agent_id: str, current: str | None) -> int | None:
        """The group to move a ticket to with a new assignee: none when they are in its group already, else
        their default group (Zendesk refuses an assignee outside the ticket's group: 422 `Assignee: is not a
        member of the group`). One `GET /api/v2/users/{id}/group_memberships`."""
        path = f"/api/v2/users/{_number(agent_id, 'user')}/group_memberships.json"
        try:
            memberships = self.api.call("GET", path).get("group_memberships") or []
        except NotFound:
            return None  # no such user: the update itself says so (422 RecordInvalid)
        groups = [str(m["group_id"]) for m in sorted(memberships, key=lambda m: not m.get("default"))]
        if not groups or current in groups:
            return None
        return _number(groups[0], "group")

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
        raise InvalidRequest(
            "Zendesk has no issue projects: linked bugs are created on the Jira desk (desks.jira.dev_project)",
            {"ticket": ticket.id, "project": project},
        )

    def find_linked_issue(self, ticket: Ticket, *, project: str) -> LinkedIssue | None:
        """Zendesk holds no issues of its own: a ticket's linked issue lives on the Jira desk."""
        return None

    def search(self, query: TicketQuery, cursor: str | None = None) -> SearchPage:
        """The export endpoint: cursor-paginated with no 1,000-result cap (plain search stops there)."""
        params: dict[str, Any] = {"query": _search_query(query), "filter[type]": "ticket", "page[size]": EXPORT_PAGE}
        if cursor:
            params["page[after]"] = cursor
        page = self.api.call("GET", "/api/v2/search/export.json", params=params)
        tickets = tuple(
            self._ticket(raw, Person(str(raw["requester_id"]), ""), ())
            for raw in page["results"]
            if raw.get("result_type", "ticket") == "ticket"
        )
        meta = page.get("meta") or {}
        return SearchPage(tickets, meta.get("after_cursor") if meta.get("has_more") else None)

    def count(self, query: TicketQuery) -> int:
        """How many tickets match `query` (`/api/v2/search/count.json`: one call, no results read).

        Zendesk search cannot leave one ticket out, and its times are whole seconds: a query with `exclude_id`
        counts up to the end of `created_before`'s second (other tickets opened in that second count too), newest
        first, and takes the excluded ticket off when the index already lists it (still one call)."""
        if query.exclude_id is None:
            found = self.api.call("GET", "/api/v2/search/count.json", params={"query": _search_query(query)})
            return int(found["count"])
        params = {"query": _search_query(query), "sort_by": "created_at", "sort_order": "desc", "per_page": 100}
        page = self.api.call("GET", "/api/v2/search.json", params=params)
        listed = {str(raw.get("id")) for raw in page.get("results") or ()}
        return int(page["count"]) - (query.exclude_id in listed)

    max_jobs = MAX_JOBS

    def bulk_apply(self, changes: Mapping[str, TicketChanges], versions: Mapping[str, str] | None = None) -> BulkResult:
        """`submit_bulk` and `bulk_results`, `MAX_JOBS` jobs at a time."""
        errors: dict[str, str | None] = {}
        conflicts: list[str] = []
        jobs = 0
        items = list(changes.items())
        for start in range(0, len(items), BULK_LIMIT * MAX_JOBS):
            queued = self.submit_bulk(dict(items[start : start + BULK_LIMIT * MAX_JOBS]), versions)
            done = self.bulk_results(queued)
            errors.update(done.errors)
            conflicts += done.conflicts
            jobs += len(queued)
        return BulkResult(errors, jobs, tuple(conflicts))

    def submit_bulk(
        self, changes: Mapping[str, TicketChanges], versions: Mapping[str, str] | None = None
    ) -> list[BulkJob]:
        """`PUT tickets/update_many` with each ticket's own body, ≤100 per job. A ticket with a version in
        `versions` is written with `safe_update` and that `updated_stamp`."""
        queued: list[BulkJob] = []
        for batch in chunked(list(changes.items()), BULK_LIMIT):
            tickets = []
            for tid, change in batch:
                body = {"id": _number(tid, "ticket"), **self._payload(change)}
                if versions and versions.get(tid):
                    body.update(safe_update=True, updated_stamp=versions[tid])
                tickets.append(body)
            job = self.api.call("PUT", "/api/v2/tickets/update_many.json", json={"tickets": tickets})
            queued.append(BulkJob(str(job["job_status"]["id"]), tuple(tid for tid, _ in batch)))
        return queued

    def bulk_results(self, jobs: Sequence[BulkJob]) -> BulkResult:
        """`GET job_statuses/show_many` (100 jobs a call) until every job has ended, then each ticket's result:
        `UpdateConflict` (its `safe_update` found it changed) is listed in `conflicts`."""
        errors: dict[str, str | None] = {}
        conflicts: list[str] = []
        ended = self._wait_all([j.id for j in jobs])
        for job in jobs:
            done = ended.get(job.id)
            if done is None:
                errors.update(dict.fromkeys(job.tickets, f"job {job.id} is no longer known to the desk"))
                continue
            failure = None if done.get("status") == "completed" else f"job {done.get('status')}: {done.get('message')}"
            by_id = {str(r.get("id")): r for r in done.get("results") or []}
            for tid in job.tickets:
                result = by_id.get(tid)
                if result is not None and (result.get("success") or result.get("status") == "Updated"):
                    errors[tid] = None
                    continue
                if result is not None and result.get("error") == "UpdateConflict":
                    conflicts.append(tid)
                reason = (result or {}).get("details") or (result or {}).get("error") or failure
                errors[tid] = str(reason or "no result for this ticket")
        return BulkResult(errors, len(jobs), tuple(conflicts))

    def _wait_all(self, job_ids: list[str], timeout: float = 300.0) -> dict[str, Mapping[str, Any]]:
        """Every job's final status, polled together (one `show_many` call per 100 jobs and round), backing
        off between rounds. Jobs the desk does not list (expired after a day) are left out."""
        ended: dict[str, Mapping[str, Any]] = {}
        deadline = time.monotonic() + timeout
        delay = 0.05
        waiting = list(job_ids)
        while waiting:
            running: list[str] = []
            for batch in chunked(waiting, BULK_LIMIT):
                page = self.api.call("GET", "/api/v2/job_statuses/show_many.json", params={"ids": ",".join(batch)})
                for job in page.get("job_statuses") or []:
                    if job.get("status") in ("completed", "failed", "killed"):
                        ended[str(job["id"])] = job
                    else:
                        running.append(str(job["id"]))
            waiting = running
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise Unavailable(f"jobs {', '.join(waiting)} still running after {timeout:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        return ended

    def people(self, ids: list[str]) -> dict[str, Person]:
        """Users by id, 100 per `GET users/show_many` (requester names for results a search returned bare)."""
        out: dict[str, Person] = {}
        for batch in chunked(list(dict.fromkeys(ids)), BULK_LIMIT):
            page = self.api.call("GET", "/api/v2/users/show_many.json", params={"ids": ",".join(batch)})
            out.update({str(u["id"]): self._person(u) for u in page.get("users") or []})
        return out


@contextmanager
def _zenpy_errors(what: str) -> Iterator[None]:
    """zenpy's and the transport's exceptions as the protocol's own (HTTP errors are already mapped by the
    session's hook before zenpy sees the response; this catches what happens outside it)."""
    try:
        yield
    except requests.RequestException as exc:
        raise Unavailable(f"{what}: {exc}") from exc
    except APIException as exc:
        response = getattr(exc, "response", None)
        if response is None:
            raise InvalidRequest(f"{what}: {exc}") from exc
        raise error_for_status(response.status_code, response.headers, response.text[:500], what) from exc
    except ZenpyException as exc:
        raise Unavailable(f"{what}: {exc}") from exc


def _number(value: Any, what: str) -> int:
    """Zendesk ids are numbers; anything else (a Jira key, a group name) is a caller's mistake, said clearly."""
    text = str(value).strip()
    if not text.isdigit():
        raise InvalidRequest(f"Zendesk {what} ids are numbers, got {value!r}")
    return int(text)


def _with_mentions(comment: NewComment) -> str:
    """Zendesk has no @-mention markup in comments: name the people at the top so the note reads right."""
    if not comment.mentions:
        return comment.body
    names = ", ".join(p.name or p.email or p.id for p in comment.mentions)
    return f"{names}: {comment.body}"


def _search_query(query: TicketQuery) -> str:
    """Zendesk search syntax for `query` (statuses OR-ed, everything else AND-ed; times in UTC)."""
    terms = ["type:ticket", *(f"status:{FROM_STATUS[s]}" for s in query.statuses)]
    if query.updated_before is not None:
        terms.append(f"updated<{_search_time(query.updated_before)}")
    if query.created_after is not None:
        terms.append(f"created>={_search_time(query.created_after)}")
    if query.created_before is not None:  # whole seconds: with `exclude_id`, to the end of that second
        before = query.created_before + timedelta(seconds=1 if query.exclude_id is not None else 0)
        terms.append(f"created<{_search_time(before)}")
    if query.requester_id is not None:
        terms.append(f"requester:{_number(query.requester_id, 'user')}")
    if query.organization_id is not None:
        terms.append(f"organization:{_number(query.organization_id, 'organization')}")
    return " ".join(terms)


def _search_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolution_tag(resolution: str) -> str:
    """The tag that records a method of resolution when no field is configured ("User not responded" →
    `resolution-user-not-responded`): Zendesk tags are lower-case words without spaces."""
    return "resolution-" + ("-".join(re.findall(r"[a-z0-9]+", resolution.lower())) or "unspecified")


def mail_metadata(metadata: Any) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """(subject, headers) of the mail a comment came from, from the comment's custom metadata: Zendesk's own mail
    channel keeps neither, but a mail gateway that posts customers' mails through the API passes them as the
    update's `metadata` (`{"subject": ..., "headers": {"Auto-Submitted": ...}}`), which the comment carries."""
    custom = (metadata or {}).get("custom") if isinstance(metadata, Mapping) else None
    if not isinstance(custom, Mapping):
        return None, ()
    subject = custom.get("subject")
    raw = custom.get("headers")
    headers = tuple((str(k), str(v)) for k, v in raw.items()) if isinstance(raw, Mapping) else ()
    return (str(subject) if isinstance(subject, str) else None), headers


def _sid(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
