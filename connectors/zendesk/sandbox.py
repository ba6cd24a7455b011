"""A stateful fake of the Zendesk Support API, at its real paths, for demos, tests and benchmarks.

It answers with Zendesk's JSON shapes (compared with recorded responses in the contract tests), its
status codes and error bodies (404 `RecordNotFound`, 422 `RecordInvalid`, 409 `UpdateConflict` for a
stale `safe_update`, 400 `TooManyValues` past 100 ids), cursor pagination, rate-limit headers, and — like
a real account's webhook subscription — posts signed `zen:event-type:ticket.*` events to the bot.
Anyone of the demo desk can authenticate with any token (`email/token:anything`), which is how a test
acts as a customer or an agent.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from connectors.sandbox_kit import SandboxControl, WebhookEmitter, basic_login, control_blueprint, guard
from connectors.zendesk import search_syntax
from connectors.zendesk.webhook import sign

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = (None, "low", "normal", "high", "urgent")
REQUEST_TYPE_FIELD = 900001
RESOLUTION_FIELD = 900002
"""A text field for the method of resolution ("User not responded"...), which Zendesk has no field of its own for."""
AUDIT_FIELD = 900003
"""The demo desk's "Bot triage" multi-line text field (`desks.zendesk.audit_field`)."""
FOLLOWUP_FIELD = 900004
"""The "Bot follow-up" multi-line field: the bot's last follow-up step and its note, so a search result says
where a ticket stands (`desks.zendesk.followup_field`)."""
CUSTOM_FIELDS = (REQUEST_TYPE_FIELD, RESOLUTION_FIELD, AUDIT_FIELD, FOLLOWUP_FIELD)
EXPORTS_KEPT = 50
"""Export cursors kept at once (Zendesk's expire after an hour; the sandbox forgets the oldest)."""
REQUEST_TYPES = ("general_inquiry", "technical_support", "configuration_change", "feedback", "phone_only", "incident")
MAX_IDS = 100
SEARCH_LIMIT = 1000
TICKET_WRITABLE = frozenset((
    "subject", "raw_subject", "description", "comment", "requester", "requester_id", "submitter_id", "assignee_id",
    "assignee_email", "group_id", "organization_id", "collaborator_ids", "collaborators", "additional_collaborators",
    "email_ccs", "followers", "type", "priority", "status", "custom_status_id", "tags", "additional_tags",
    "remove_tags", "external_id", "problem_id", "due_at", "custom_fields", "fields", "ticket_form_id", "brand_id",
    "via", "via_followup_source_id", "recipient", "safe_update", "updated_stamp", "macro_ids",
    "sharing_agreement_ids", "attribute_value_ids", "metadata", "is_public",
))  # fmt: skip
"""Keys a ticket write may carry; others are ignored with a warning header, as Zendesk does."""
SEARCH_LIMIT_BODY = {
    "error": "invalid",
    "description": "Invalid search: Requested response size was greater than Search Response Limits",
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # Zendesk's own format; cheap, seeding calls it a lot


def error_body(status: int) -> dict[str, Any]:
    """Zendesk's own error bodies, by status."""
    return {
        400: {"error": "InvalidValue", "description": "Invalid value"},
        401: {"error": "Couldn't authenticate you"},
        403: {"error": "Forbidden", "description": "You do not have access to this page."},
        404: {"error": "RecordNotFound", "description": "Not found"},
        409: {
            "error": "UpdateConflict",
            "description": "Safe Update prevented the update due to outdated ticket data. "
            "Please fetch the latest ticket data and try again.",
        },
        422: {"error": "RecordInvalid", "description": "Record validation errors"},
        429: {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"},
    }.get(status, {"error": "InternalError", "description": "Something went wrong"})


def rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-Rate-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(reset),
    }


class ApiError(Exception):
    def __init__(self, status: int, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body) if body is not None else error_body(status)


@dataclass
class State:
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    audits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Status changes as Zendesk's ticket audits record them (`GET /tickets/{id}/audits`), oldest first."""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    exports: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Open export cursors: the (kind, id) of every record the export's query matched when it began."""
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    ticket_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class ZendeskSandbox:
    """The fake Zendesk: state, routes at `/api/v2/...`, and the shared sandbox knobs."""

    desk = "zendesk"

    def __init__(self) -> None:
        self.control = SandboxControl("zendesk", error_body, rate_headers)
        self.emitter = WebhookEmitter(sign)
        self.state = State()
        self._lock = threading.RLock()
        self.base_url = "https://sandbox.zendesk.com"

    # --- state -------------------------------------------------------------------------------------

    def reset(self, seed: bool) -> None:
        with self._lock:
            self.state = State()
            if seed:
                self._seed()

    def _user(self, uid: int, name: str, email: str, role: str, org: int | None = None) -> None:
        self.state.users[uid] = {
            "id": uid,
            "url": f"{self.base_url}/api/v2/users/{uid}.json",
            "name": name,
            "email": email,
            "created_at": _now(),
            "updated_at": _now(),
            "time_zone": "Europe/Berlin",
            "iana_time_zone": "Europe/Berlin",
            "phone": None,
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": org,
            "role": role,
            "verified": True,
            "authenticity_token": f"sandbox-{uid}",
            "external_id": None,
            "tags": [],
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": None,
            "signature": None,
            "details": None,
            "notes": None,
            "role_type": 4 if role == "admin" else (0 if role == "agent" else None),
            "custom_role_id": None,
            "moderator": role != "end-user",
            "ticket_restriction": None if role != "end-user" else "requested",
            "only_private_comments": False,
            "restricted_agent": False,
            "suspended": False,
            "default_group_id": None,
            "report_csv": role != "end-user",
            "user_fields": {"agent_away": False},
        }

    def _groups_of(self, uid: int) -> list[int]:
        """The agent's groups, their default group first."""
        mine = sorted((m for m in self.state.memberships if m["user_id"] == uid), key=lambda m: not m["default"])
        return [int(m["group_id"]) for m in mine]

    def _outside_group(self, ticket: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
        """A new assignee who is not a member of the group the ticket will be in: Zendesk refuses the update
        (422 `Assignee: is not a member of the group`). A ticket without a group takes the assignee's default."""
        if data.get("assignee_id") is None or int(data["assignee_id"]) == ticket["assignee_id"]:
            return False
        group = data.get("group_id", ticket["group_id"])
        return group is not None and int(group) not in self._groups_of(int(data["assignee_id"]))

    def _membership(self, uid: int, gid: int) -> dict[str, Any]:
        mid = next(self.state.ids)
        return {
            "url": f"{self.base_url}/api/v2/group_memberships/{mid}.json",
            "id": mid,
            "user_id": uid,
            "group_id": gid,
            "default": True,
            "created_at": _now(),
            "updated_at": _now(),
        }

    def _seed(self) -> None:
        for oid, name in ((401, "Acme"), (402, "Globex")):
            self.state.organizations[oid] = {
                "url": f"{self.base_url}/api/v2/organizations/{oid}.json",
                "id": oid,
                "name": name,
                "shared_tickets": False,
                "shared_comments": False,
                "external_id": None,
                "created_at": _now(),
                "updated_at": _now(),
                "domain_names": [f"{name.lower()}.test"],
                "details": "",
                "notes": "",
                "group_id": None,
                "tags": [],
                "organization_fields": {},
            }
        self._user(1, "Helpdesk Bot", "bot@example.com", "admin")
        for uid, name, email in (
            (101, "Alice Agent", "alice@example.com"),
            (102, "Bob Agent", "bob@example.com"),
            (103, "Carol Agent", "carol@example.com"),
            (104, "Dave Devlead", "dave@example.com"),
            (105, "Sam Staff", "sam@example.com"),
        ):
            self._user(uid, name, email, "agent")
        self._user(301, "Cathy Customer", "cathy@acme.test", "end-user", 401)
        self._user(302, "Gary Globex", "gary@globex.test", "end-user", 402)
        groups = ((201, "Support", (101, 102, 103)), (202, "Escalations", (102,)), (203, "Account managers", (105,)))
        for gid, name, members in groups:
            self.state.groups[gid] = {
                "url": f"{self.base_url}/api/v2/groups/{gid}.json",
                "id": gid,
                "name": name,
                "deleted": False,
                "created_at": _now(),
                "updated_at": _now(),
            }
            for uid in members:
                self.state.memberships.append(self._membership(uid, gid))
        self._create_ticket(301, {"subject": "Invoice copy", "comment": {"body": "Please send me a copy."}}, emit=False)
        self._update_ticket(1, 101, {"assignee_id": 101, "group_id": 201, "status": "open"}, emit=False)
        self._create_ticket(
            302, {"subject": "Question about limits", "comment": {"body": "What are the limits?"}}, emit=False
        )

    def insert_ticket(
        self,
        requester: int,
        subject: str,
        *,
        status: str = "open",
        tags: tuple[str, ...] = (),
        updated_at: str | None = None,
        fields: Mapping[int, Any] | None = None,
        organization_id: int | None = None,
        comments: Sequence[tuple[int, str, bool]] = (),
    ) -> int:
        """A ticket put straight into the store, as it would be after its history (no webhook, no HTTP):
        how tests and benchmarks seed a desk of many thousand tickets in seconds. `comments` are (author,
        body, public) after the description, all dated `updated_at`."""
        with self._lock:
            ticket = self._create_ticket(requester, {"subject": subject, "comment": {"body": subject}}, emit=False)
            for author, body, public in comments:
                self._add_comment(int(ticket["id"]), author, body, public)
            ticket.update(status=status, tags=list(tags))
            if organization_id is not None:
                ticket["organization_id"] = organization_id
            for slot in ticket["custom_fields"]:
                slot["value"] = (fields or {}).get(slot["id"], slot["value"])
            if updated_at is not None:
                ticket["updated_at"] = ticket["created_at"] = updated_at
                for comment in self.state.comments[ticket["id"]]:
                    comment["created_at"] = updated_at
            return int(ticket["id"])

    def set_field(self, ticket_id: int, field_id: int, value: Any) -> None:
        """A custom field's value put straight into the store (seeding: no update, no audit, no webhook)."""
        with self._lock:
            for slot in self.state.tickets[ticket_id]["custom_fields"]:
                if slot["id"] == field_id:
                    slot["value"] = value

    # --- tickets -----------------------------------------------------------------------------------

    def _ticket_json(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if not k.startswith("_")}

    def _find_user(self, email: str) -> dict[str, Any] | None:
        email = email.lower()
        return next((u for u in self.state.users.values() if (u["email"] or "").lower() == email), None)

    def _resolve_requester(self, data: Any, fallback: int) -> int:
        if data is None:
            return fallback
        if isinstance(data, int):
            return data
        if isinstance(data, dict) and data.get("email"):
            found = self._find_user(str(data["email"]))
            if found:
                return int(found["id"])
            uid = next(self.state.ids)
            self._user(uid, str(data.get("name") or data["email"]), str(data["email"]), "end-user")
            return uid
        raise ApiError(
            422,
            {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {"requester": [{"description": "Requester is invalid"}]},
            },
        )

    def _create_ticket(self, author: int, data: Mapping[str, Any], *, emit: bool = True) -> dict[str, Any]:
        comment = data.get("comment") or {}
        body = str(comment.get("body") or comment.get("html_body") or data.get("description") or "")
        if not body:
            raise ApiError(
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"base": [{"description": "Description: cannot be blank"}]},
                },
            )
        if data.get("status") is not None and data["status"] not in STATUSES[:-1]:
            raise ApiError(
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"status": [{"description": f"Status: {data['status']} is not a valid status"}]},
                },
            )
        requester = self._resolve_requester(data.get("requester", data.get("requester_id")), author)
        tid = next(self.state.ticket_ids)
        now = _now()
        agent_created = self.state.users[author]["role"] != "end-user"
        via = "api" if agent_created else "email" if data.get("via_email") else "web"
        ticket: dict[str, Any] = {
            "url": f"{self.base_url}/api/v2/tickets/{tid}.json",
            "id": tid,
            "external_id": data.get("external_id"),
            "via": {"channel": via, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": now,
            "updated_at": now,
            "type": data.get("type"),
            "subject": data.get("subject") or body[:60],
            "raw_subject": data.get("subject") or body[:60],
            "description": body,
            "priority": data.get("priority"),
            "status": data.get("status") or ("open" if data.get("assignee_id") else "new"),
            "recipient": None,
            "requester_id": requester,
            "submitter_id": author,
            "assignee_id": data.get("assignee_id"),
            "organization_id": self.state.users[requester].get("organization_id"),
            "group_id": data.get("group_id"),
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": bool(comment.get("public", True)),
            "due_at": None,
            "tags": list(data.get("tags") or []),
            "custom_fields": [{"id": f, "value": None} for f in CUSTOM_FIELDS],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "custom_status_id": 1,
            "fields": [{"id": f, "value": None} for f in CUSTOM_FIELDS],
            "followup_ids": [],
            "ticket_form_id": data.get("ticket_form_id"),
            "brand_id": 1,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }
        self.state.tickets[tid] = ticket
        self.state.comments[tid] = []
        self.state.audits[tid] = []
        self._add_comment(tid, author, body, bool(comment.get("public", True)), via)
        self._audit_status(tid, author, ticket["status"], None, "Create", via)
        if emit:
            self._emit("ticket.created", ticket, author)
        return ticket

    def _audit_status(
        self,
        tid: int,
        author: int,
        status: str,
        previous: str | None,
        kind: str = "Change",
        channel: str = "api",
        at: str | None = None,
    ) -> None:
        event: dict[str, Any] = {"id": next(self.state.ids), "type": kind, "field_name": "status", "value": status}
        if kind == "Change":
            event["previous_value"] = previous
        self.state.audits.setdefault(tid, []).append(
            {
                "id": next(self.state.ids),
                "ticket_id": tid,
                "created_at": at or _now(),
                "author_id": author,
                "metadata": {"system": {}, "custom": {}},
                "events": [event],
                "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            }
        )

    def _add_comment(
        self,
        tid: int,
        author: int,
        body: str,
        public: bool,
        channel: str = "api",
        metadata: Mapping[str, Any] | None = None,
        at: str | None = None,
    ) -> dict[str, Any]:
        comment = {
            "id": next(self.state.ids),
            "type": "Comment",
            "author_id": author,
            "body": body,
            "html_body": f'<div class="zd-comment"><p>{body}</p></div>',
            "plain_body": body,
            "public": public,
            "attachments": [],
            "audit_id": next(self.state.ids),
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": at or _now(),
            "metadata": {"system": {}, "custom": dict(metadata or {})},
        }
        self.state.comments[tid].append(comment)
        return comment

    def _update_ticket(self, tid: int, author: int, data: Mapping[str, Any], *, emit: bool = True) -> dict[str, Any]:
        ticket = self.state.tickets.get(tid)
        if ticket is None:
            raise ApiError(404)
        if data.get("safe_update") and data.get("updated_stamp") and data["updated_stamp"] != ticket["updated_at"]:
            raise ApiError(409)
        details: dict[str, list[dict[str, str]]] = {}
        if "status" in data and data["status"] not in STATUSES:
            details["status"] = [{"description": f"Status: {data['status']} is not a valid status"}]
        if "priority" in data and data["priority"] not in PRIORITIES:
            details["priority"] = [{"description": f"Priority: {data['priority']} is not valid"}]
        for key in ("assignee_id", "requester_id"):
            if data.get(key) is not None and int(data[key]) not in self.state.users:
                details[key] = [{"description": f"{key}: is invalid"}]
        if data.get("group_id") is not None and int(data["group_id"]) not in self.state.groups:
            details["group_id"] = [{"description": "Group: is invalid"}]
        elif "assignee_id" not in details and self._outside_group(ticket, data):
            details["assignee"] = [{"description": "Assignee: is not a member of the group"}]
        if ticket["status"] == "closed":
            details["status"] = [{"description": "Status: closed prevents ticket update"}]
        followers: list[tuple[int, str]] = []
        for follower in data.get("followers") or []:
            user = (
                self.state.users.get(int(follower["user_id"]))
                if follower.get("user_id")
                else self._find_user(str(follower.get("user_email") or ""))
            )
            if user is None or user["role"] == "end-user":
                details["followers"] = [{"description": "Followers: only agents can be followers"}]
            else:
                followers.append((int(user["id"]), str(follower.get("action", "put"))))
        if details:
            raise ApiError(
                422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details}
            )
        events: list[str] = []
        stamp = _now()  # one update is one audit: its comment and status change share its time, as on Zendesk
        for key in ("assignee_id", "group_id", "requester_id", "priority", "subject", "type"):
            if key in data and data[key] != ticket[key]:
                ticket[key] = int(data[key]) if key.endswith("_id") and data[key] is not None else data[key]
                if key == "assignee_id":
                    events.append("ticket.agent_assignment_changed")
                    if ticket["status"] == "new" and data[key] is not None and "status" not in data:
                        self._audit_status(tid, author, "open", "new", at=stamp)
                        ticket["status"] = "open"
                if key == "requester_id" and "organization_id" not in data:
                    # Zendesk moves the ticket to the new requester's (default) organization
                    ticket["organization_id"] = self.state.users[ticket["requester_id"]].get("organization_id")
        if ticket["group_id"] is None and ticket["assignee_id"] is not None and "assignee_id" in data:
            ticket["group_id"] = next(iter(self._groups_of(ticket["assignee_id"])), None)  # the default group
        if "status" in data and data["status"] != ticket["status"]:
            self._audit_status(tid, author, data["status"], ticket["status"], at=stamp)
            ticket["status"] = data["status"]
            events.append("ticket.status_changed")
        if "tags" in data:
            ticket["tags"] = list(dict.fromkeys(data["tags"]))
        for tag in data.get("additional_tags") or []:
            if tag not in ticket["tags"]:
                ticket["tags"].append(tag)
        ticket["tags"] = [t for t in ticket["tags"] if t not in (data.get("remove_tags") or [])]
        for cf in data.get("custom_fields") or []:
            for slot in ticket["custom_fields"]:
                if slot["id"] == int(cf["id"]):
                    slot["value"] = cf["value"]
                    if slot["id"] == REQUEST_TYPE_FIELD and cf["value"] and cf["value"] not in ticket["tags"]:
                        ticket["tags"] = [t for t in ticket["tags"] if t not in REQUEST_TYPES] + [cf["value"]]
            ticket["fields"] = ticket["custom_fields"]
        for cc in data.get("email_ccs") or []:
            uid = (
                int(cc["user_id"]) if cc.get("user_id") else self._resolve_requester({"email": cc.get("user_email")}, 0)
            )
            _put_or_delete(ticket["email_cc_ids"], uid, cc.get("action", "put"))
        for uid, action in followers:
            _put_or_delete(ticket["follower_ids"], uid, action)
        ticket["collaborator_ids"] = list(dict.fromkeys(ticket["email_cc_ids"] + ticket["follower_ids"]))
        comment = data.get("comment")
        if comment:
            public = bool(comment.get("public", True))
            body = str(comment.get("body") or comment.get("html_body") or "")
            # The update's `metadata` is the audit's custom metadata, which its comment carries (a mail gateway
            # posting through the API keeps the mail's subject and auto-reply headers there).
            metadata = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else None
            self._add_comment(tid, int(comment.get("author_id") or author), body, public, metadata=metadata, at=stamp)
            ticket["is_public"] = ticket["is_public"] or public
            customer_reply = public and self.state.users[author]["role"] == "end-user" and "status" not in data
            if customer_reply and ticket["status"] in ("pending", "hold", "solved"):
                self._audit_status(tid, author, "open", ticket["status"], at=stamp)
                ticket["status"] = "open"
                events.append("ticket.status_changed")
            events.append("ticket.comment_added")
        ticket["updated_at"] = _now()
        if emit:
            for event in events or ["ticket.updated"]:
                self._emit(event, ticket, author, comment=self.state.comments[tid][-1] if comment else None)
        return ticket

    def _upsert_user(self, data: Mapping[str, Any], uid: int | None = None) -> tuple[int, dict[str, Any]]:
        """Create a user, or update the one with `uid` / the same email (users/create_or_update)."""
        email = str(data.get("email") or "")
        existing = self.state.users.get(uid) if uid is not None else (self._find_user(email) if email else None)
        if existing is None:
            if uid is not None:
                raise ApiError(404)
            if "@" not in email:
                raise ApiError(
                    422,
                    {
                        "error": "RecordInvalid",
                        "description": "Record validation errors",
                        "details": {"email": [{"description": "Email: is invalid"}]},
                    },
                )
            new_id = next(self.state.ids)
            self._user(new_id, str(data.get("name") or email), email, "end-user", data.get("organization_id"))
            existing = self.state.users[new_id]
            created = True
        else:
            created = False
        role = data.get("role", existing["role"])
        if role not in ("end-user", "agent", "admin"):
            raise ApiError(
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"role": [{"description": f"Role: {role} is not valid"}]},
                },
            )
        for key in ("name", "organization_id", "tags", "details", "notes", "active"):
            if key in data:
                existing[key] = data[key]
        existing["role"] = role
        existing["user_fields"] = {**existing["user_fields"], **(data.get("user_fields") or {})}
        existing["updated_at"] = _now()
        return (201 if created else 200), existing

    def _own_ticket(self, caller: int, tid: int) -> dict[str, Any]:
        """A request is visible to its requester and CCs (and to staff); others get Zendesk's 404."""
        ticket = self.state.tickets.get(tid)
        staff = self.state.users[caller]["role"] != "end-user"
        if ticket is None or not (staff or caller == ticket["requester_id"] or caller in ticket["email_cc_ids"]):
            raise ApiError(404)
        return ticket

    def _request_json(self, ticket: Mapping[str, Any]) -> dict[str, Any]:
        """A ticket as the Requests API shows it to the end user (no tags, no internal fields)."""
        keys = (
            "url", "id", "status", "priority", "type", "subject", "description", "organization_id", "via",
            "custom_fields", "requester_id", "collaborator_ids", "email_cc_ids", "is_public", "due_at",
            "ticket_form_id", "created_at", "updated_at", "assignee_id", "group_id", "recipient", "brand_id",
        )  # fmt: skip
        out = {k: ticket[k] for k in keys}
        out["url"] = f"{self.base_url}/api/v2/requests/{ticket['id']}.json"
        out["status"] = "open" if ticket["status"] == "hold" else ticket["status"]  # end users never see on-hold
        out["can_be_solved_by_me"] = ticket["status"] not in ("solved", "closed")
        out["solved"] = ticket["status"] in ("solved", "closed")
        out["followup_source_id"] = None
        return out

    # --- webhooks ----------------------------------------------------------------------------------

    def _emit(
        self, event_type: str, ticket: Mapping[str, Any], actor: int, comment: Mapping[str, Any] | None = None
    ) -> None:
        """A `zen:event-type:ticket.*` delivery, shaped as Zendesk's event subscriptions send it."""
        detail = {
            "actor_id": str(actor),
            "assignee_id": _sid(ticket["assignee_id"]),
            "brand_id": "1",
            "created_at": ticket["created_at"],
            "custom_status": "1",
            "description": ticket["description"],
            "external_id": ticket["external_id"],
            "form_id": _sid(ticket["ticket_form_id"]),
            "group_id": _sid(ticket["group_id"]),
            "id": str(ticket["id"]),
            "is_public": ticket["is_public"],
            "organization_id": _sid(ticket["organization_id"]),
            "priority": (ticket["priority"] or "").upper() or None,
            "requester_id": str(ticket["requester_id"]),
            "status": "HOLD" if ticket["status"] == "hold" else str(ticket["status"]).upper(),
            "subject": ticket["subject"],
            "submitter_id": str(ticket["submitter_id"]),
            "tags": list(ticket["tags"]),
            "type": (ticket["type"] or "").upper() or None,
            "updated_at": ticket["updated_at"],
            "via": {"channel": ticket["via"]["channel"]},
        }
        body: dict[str, Any] = {}
        if comment is not None:
            author = self.state.users[int(comment["author_id"])]
            body = {
                "comment": {
                    "id": str(comment["id"]),
                    "body": comment["body"],
                    "is_public": comment["public"],
                    "author": {
                        "id": str(author["id"]),
                        "is_staff": author["role"] != "end-user",
                        "name": author["name"],
                    },
                }
            }
        self.emitter.emit(
            {
                "account_id": 1,
                "detail": detail,
                "event": body,
                "id": str(uuid.uuid4()),
                "subject": f"zen:ticket:{ticket['id']}",
                "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "type": f"zen:event-type:{event_type}",
                "zendesk_event_version": "2022-11-06",
            },
            {"X-Zendesk-Webhook-Invocation-Id": uuid.uuid4().hex, "User-Agent": "Zendesk Webhook"},
        )

    # --- HTTP --------------------------------------------------------------------------------------

    def _caller(self) -> int:
        """The authenticated user: `email/token:anything` (or `email:password`) of a demo desk user."""
        login = basic_login()
        if login is None:
            raise ApiError(401)
        user = self._find_user(login.removesuffix("/token"))
        if user is None or not user["active"]:
            raise ApiError(401)
        return int(user["id"])

    def _paged(
        self, key: str, items: list[dict[str, Any]], extra: Mapping[str, Any] | None = None, max_size: int = 100
    ) -> dict[str, Any]:
        """Cursor pagination as Zendesk does it (`page[size]`, `page[after]`, `meta`, `links`), or offset pagination
        (`page`, `per_page` → `next_page`, `previous_page`, `count`) for older clients that ask for it."""
        if ("page" in request.args or "per_page" in request.args) and key != "results":
            return self._offset_page(key, items, extra)
        size = max(1, min(int(request.args.get("page[size]", 100)), max_size))
        start = int(request.args.get("page[after]") or 0)
        page = items[start : start + size]
        more = start + size < len(items)
        after = str(start + size) if more else None
        args = {**request.args.to_dict(), "page[size]": str(size), "page[after]": after or ""}
        next_url = f"{request.base_url}?{urlencode(args, safe='[]:')}" if more else None
        return {
            key: page,
            **(extra or {}),
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": str(start) if start else None},
            "links": {"next": next_url, "prev": None},
        }

    def _export_page(self, kind: str, caller: int) -> dict[str, Any]:
        """One page of an export: the query is matched once, when the export begins, and its cursor walks
        that list (as Zendesk's export cursor does), each page showing the records as they are now."""
        size = max(1, min(int(request.args.get("page[size]", 100)), 1000))
        after = request.args.get("page[after]") or ""
        token, _, offset = after.partition(".")
        if not after:
            query = replace(search_syntax.parse(request.args.get("query", "")), types=frozenset({kind}))
            token = uuid.uuid4().hex
            found = self._search(query, caller, export=True)
            self.state.exports[token] = [(str(r["result_type"]), int(r["id"])) for r in found]
            for old in list(self.state.exports)[:-EXPORTS_KEPT]:
                del self.state.exports[old]
        refs = self.state.exports.get(token)
        if refs is None or (after and not offset.isdigit()):
            raise ApiError(400, {"error": "InvalidPaginationParameter", "description": "cursor is invalid or expired"})
        start = int(offset or 0)
        tables = {"ticket": self.state.tickets, "user": self.state.users, "organization": self.state.organizations}
        page = [
            {**self._ticket_json(record), "result_type": rkind}
            for rkind, rid in refs[start : start + size]
            if (record := tables.get(rkind, self.state.groups).get(rid)) is not None
        ]
        more = start + size < len(refs)
        cursor = f"{token}.{start + size}" if more else None
        args = {**request.args.to_dict(), "page[size]": str(size), "page[after]": cursor or ""}
        return {
            "results": page,
            "facets": None,
            "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": f"{token}.{start}" if start else None},
            "links": {"next": f"{request.base_url}?{urlencode(args, safe='[]:')}" if more else None, "prev": None},
        }

    def _offset_page(self, key: str, items: list[dict[str, Any]], extra: Mapping[str, Any] | None) -> dict[str, Any]:
        per_page = max(1, min(int(request.args.get("per_page", 100)), 100))
        number = max(1, int(request.args.get("page", 1)))
        start = (number - 1) * per_page

        def link(n: int) -> str:
            return f"{request.base_url}?{urlencode({**request.args.to_dict(), 'page': n, 'per_page': per_page})}"

        return {
            key: items[start : start + per_page],
            **(extra or {}),
            "next_page": link(number + 1) if start + per_page < len(items) else None,
            "previous_page": link(number - 1) if number > 1 else None,
            "count": len(items),
        }

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        api = Blueprint("zendesk_api", __name__, url_prefix="/api/v2")
        guard(api, self.control)
        sb = self

        def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
                def view(**kw: Any) -> Response:
                    try:
                        with sb._lock:
                            status, body = fn(sb._caller(), **kw)
                    except ApiError as exc:
                        status, body = exc.status, exc.body
                    except (KeyError, TypeError, ValueError) as exc:
                        status, body = 400, {"error": "InvalidValue", "description": f"Invalid request: {exc}"}
                    resp = jsonify(body)
                    resp.status_code = status
                    if status < 300 and fn.__name__ in ("create_ticket", "update_ticket"):
                        _warn_unpermitted(resp, fn.__name__)
                    return resp

                view.__name__ = fn.__name__
                for suffix in ("", ".json"):
                    api.add_url_rule(rule + suffix, f"{fn.__name__}{suffix.replace('.', '_')}", view, methods=methods)
                return fn

            return wrap

        @route("/users/me", ["GET"])
        def me(caller: int) -> tuple[int, Any]:
            return 200, {"user": sb.state.users[caller]}

        @route("/users/<int:uid>", ["GET"])
        def show_user(caller: int, uid: int) -> tuple[int, Any]:
            if uid not in sb.state.users:
                raise ApiError(404)
            return 200, {"user": sb.state.users[uid]}

        @route("/users/show_many", ["GET"])
        def show_many_users(caller: int) -> tuple[int, Any]:
            ids = [int(i) for i in request.args.get("ids", "").split(",") if i]
            if len(ids) > MAX_IDS:
                raise ApiError(400, _too_many("ids"))
            return 200, {"users": [sb.state.users[i] for i in ids if i in sb.state.users]}

        @route("/users", ["GET"])
        def users(caller: int) -> tuple[int, Any]:
            """Every user, optionally of some roles (`role=agent` or `role[]=admin&role[]=agent`)."""
            roles = set(request.args.getlist("role") + request.args.getlist("role[]"))
            items = [u for u in sb.state.users.values() if not roles or u["role"] in roles]
            return 200, sb._paged("users", items)

        @route("/users/search", ["GET"])
        def search_users(caller: int) -> tuple[int, Any]:
            query = (request.args.get("query") or request.args.get("email") or "").removeprefix("email:").strip()
            found = sb._find_user(query) if query else None
            return 200, {
                "users": [found] if found else [],
                "next_page": None,
                "previous_page": None,
                "count": int(bool(found)),
            }

        @route("/users", ["POST"])
        def create_user(caller: int) -> tuple[int, Any]:
            data = request.get_json(force=True)["user"]
            email = str(data.get("email") or "")
            if not email or "@" not in email:
                raise ApiError(
                    422,
                    {
                        "error": "RecordInvalid",
                        "description": "Record validation errors",
                        "details": {"email": [{"description": "Email: is invalid"}]},
                    },
                )
            if sb._find_user(email):
                raise ApiError(
                    422,
                    {
                        "error": "RecordInvalid",
                        "description": "Record validation errors",
                        "details": {"email": [{"description": f"Email: {email} is already being used"}]},
                    },
                )
            uid = next(sb.state.ids)
            sb._user(uid, str(data.get("name") or email), email, str(data.get("role") or "end-user"))
            return 201, {"user": sb.state.users[uid]}

        @route("/users/<int:uid>", ["PUT"])
        def update_user(caller: int, uid: int) -> tuple[int, Any]:
            _, user = sb._upsert_user(request.get_json(force=True)["user"], uid)
            return 200, {"user": user}

        @route("/users/create_or_update", ["POST"])
        def create_or_update_user(caller: int) -> tuple[int, Any]:
            status, user = sb._upsert_user(request.get_json(force=True)["user"])
            return status, {"user": user}

        @route("/groups", ["GET"])
        def groups(caller: int) -> tuple[int, Any]:
            return 200, sb._paged("groups", list(sb.state.groups.values()))

        @route("/groups/<int:gid>", ["GET"])
        def show_group(caller: int, gid: int) -> tuple[int, Any]:
            if gid not in sb.state.groups:
                raise ApiError(404)
            return 200, {"group": sb.state.groups[gid]}

        @route("/group_memberships", ["GET"])
        def all_memberships(caller: int) -> tuple[int, Any]:
            return 200, sb._paged("group_memberships", list(sb.state.memberships))

        @route("/users/<int:uid>/group_memberships", ["GET"])
        def user_memberships(caller: int, uid: int) -> tuple[int, Any]:
            if uid not in sb.state.users:
                raise ApiError(404)
            return 200, sb._paged("group_memberships", [m for m in sb.state.memberships if m["user_id"] == uid])

        @route("/groups/<int:gid>/memberships", ["GET"])
        def memberships(caller: int, gid: int) -> tuple[int, Any]:
            if gid not in sb.state.groups:
                raise ApiError(404)
            items = [m for m in sb.state.memberships if m["group_id"] == gid]
            extra = {}
            if "users" in request.args.get("include", ""):
                extra["users"] = [sb.state.users[m["user_id"]] for m in items]
            return 200, sb._paged("group_memberships", items, extra)

        @route("/ticket_fields", ["GET"])
        def ticket_fields(caller: int) -> tuple[int, Any]:
            options = [
                {"id": i + 1, "name": v.replace("_", " ").capitalize(), "value": v} for i, v in enumerate(REQUEST_TYPES)
            ]
            field_json = {
                "id": REQUEST_TYPE_FIELD,
                "type": "tagger",
                "title": "Request type",
                "active": True,
                "custom_field_options": options,
                "required": False,
            }
            resolution = {
                "id": RESOLUTION_FIELD,
                "type": "text",
                "title": "Method of resolution",
                "active": True,
                "required": False,
            }
            audit = {
                "id": AUDIT_FIELD,
                "type": "textarea",
                "title": "Bot triage",
                "active": True,
                "required": False,
            }
            followup = {**audit, "id": FOLLOWUP_FIELD, "title": "Bot follow-up"}
            return 200, {
                "ticket_fields": [field_json, resolution, audit, followup],
                "next_page": None,
                "previous_page": None,
                "count": 4,
            }

        @route("/tickets", ["POST"])
        def create_ticket(caller: int) -> tuple[int, Any]:
            if sb.state.users[caller]["role"] == "end-user":
                raise ApiError(403)  # end users open tickets through the Requests API, as on a real account
            ticket = sb._create_ticket(caller, request.get_json(force=True)["ticket"])
            return 201, {
                "ticket": sb._ticket_json(ticket),
                "audit": {"id": next(sb.state.ids), "ticket_id": ticket["id"]},
            }

        @route("/requests", ["POST"])
        def create_request(caller: int) -> tuple[int, Any]:
            """The end user's own API (Requests): the caller is always the requester."""
            data = dict(request.get_json(force=True)["request"])
            data.pop("requester", None)
            data.pop("requester_id", None)
            ticket = sb._create_ticket(caller, data)
            return 201, {"request": sb._request_json(ticket)}

        @route("/requests/<int:tid>", ["GET"])
        def show_request(caller: int, tid: int) -> tuple[int, Any]:
            return 200, {"request": sb._request_json(sb._own_ticket(caller, tid))}

        @route("/requests/<int:tid>", ["PUT"])
        def reply_to_request(caller: int, tid: int) -> tuple[int, Any]:
            """An end user can only comment (always public) or mark their request solved."""
            sb._own_ticket(caller, tid)
            data = request.get_json(force=True)["request"]
            change: dict[str, Any] = {}
            if data.get("comment"):
                change["comment"] = {"body": data["comment"].get("body") or "", "public": True}
            if data.get("solved"):
                change["status"] = "solved"
            ticket = sb._update_ticket(tid, caller, change)
            return 200, {"request": sb._request_json(ticket)}

        @route("/tickets/<int:tid>", ["GET"])
        def show_ticket(caller: int, tid: int) -> tuple[int, Any]:
            ticket = sb.state.tickets.get(tid)
            if ticket is None:
                raise ApiError(404)
            body: dict[str, Any] = {"ticket": sb._ticket_json(ticket)}
            include = request.args.get("include", "")
            if "comment_count" in include:
                body["ticket"]["comment_count"] = len(sb.state.comments[tid])
            if "users" in include:
                ids = {
                    ticket["requester_id"],
                    ticket["submitter_id"],
                    ticket["assignee_id"],
                    *ticket["collaborator_ids"],
                }
                body["users"] = [sb.state.users[i] for i in ids if i in sb.state.users]
            return 200, body

        @route("/tickets/<int:tid>", ["PUT"])
        def update_ticket(caller: int, tid: int) -> tuple[int, Any]:
            ticket = sb._update_ticket(tid, caller, request.get_json(force=True)["ticket"])
            audit = {
                "id": next(sb.state.ids),
                "ticket_id": tid,
                "created_at": ticket["updated_at"],
                "author_id": caller,
                "metadata": {"system": {}, "custom": {}},
                "events": [],
                "via": {"channel": "api"},
            }
            return 200, {"ticket": sb._ticket_json(ticket), "audit": audit}

        @route("/tickets/<int:tid>/comments", ["GET"])
        def comments(caller: int, tid: int) -> tuple[int, Any]:
            if tid not in sb.state.tickets:
                raise ApiError(404)
            items = sb.state.comments[tid]
            extra = {}
            if "users" in request.args.get("include", ""):
                extra["users"] = [sb.state.users[i] for i in {c["author_id"] for c in items}]
            return 200, sb._paged("comments", items, extra)

        @route("/tickets/<int:tid>/audits", ["GET"])
        def audits(caller: int, tid: int) -> tuple[int, Any]:
            if tid not in sb.state.tickets:
                raise ApiError(404)
            items = sb.state.audits.get(tid, [])
            extra = {}
            if "users" in request.args.get("include", ""):
                extra["users"] = [sb.state.users[i] for i in {a["author_id"] for a in items} if i in sb.state.users]
            return 200, sb._paged("audits", items, extra)

        @route("/tickets/update_many", ["PUT"])
        def update_many(caller: int) -> tuple[int, Any]:
            data = request.get_json(force=True)
            if request.args.get("ids"):  # the same change for every id: `?ids=1,2` + {"ticket": {...}}
                ids = [i for i in request.args["ids"].split(",") if i]
                if len(ids) > MAX_IDS:
                    raise ApiError(400, _too_many("ids"))
                items = [{**data["ticket"], "id": int(i)} for i in ids]
            else:
                items = data.get("tickets") or []
            if len(items) > MAX_IDS:
                raise ApiError(400, _too_many("tickets"))
            results = []
            for item in items:
                try:
                    sb._update_ticket(int(item["id"]), caller, item)
                    results.append({"id": int(item["id"]), "action": "update", "success": True, "status": "Updated"})
                except ApiError as exc:
                    results.append(
                        {
                            "id": int(item["id"]),
                            "action": "update",
                            "success": False,
                            "status": "Failed",
                            "error": exc.body.get("error"),
                            "details": str(exc.body.get("details") or exc.body.get("description")),
                        }
                    )
            job_id = uuid.uuid4().hex
            job = {
                "id": job_id,
                "url": f"{sb.base_url}/api/v2/job_statuses/{job_id}.json",
                "total": len(items),
                "progress": len(items),
                "status": "completed",
                "message": f"Completed at {_now()}",
                "results": results,
            }
            sb.state.jobs[job_id] = job
            queued = {**job, "status": "queued", "progress": 0, "message": None, "results": None}
            return 200, {"job_status": queued}

        @route("/job_statuses/show_many", ["GET"])
        def show_many_job_statuses(caller: int) -> tuple[int, Any]:
            ids = [i for i in request.args.get("ids", "").split(",") if i]
            if len(ids) > MAX_IDS:
                raise ApiError(400, _too_many("ids"))
            return 200, {"job_statuses": [sb.state.jobs[i] for i in ids if i in sb.state.jobs]}

        @route("/job_statuses/<job_id>", ["GET"])
        def job_status(caller: int, job_id: str) -> tuple[int, Any]:
            if job_id not in sb.state.jobs:
                raise ApiError(404)
            return 200, {"job_status": sb.state.jobs[job_id]}

        @route("/search", ["GET"])
        def search(caller: int) -> tuple[int, Any]:
            """Offset pages of at most 100, and never past the 1,000th result (422, as Zendesk answers)."""
            query = search_syntax.parse(request.args.get("query", ""))
            per_page = max(1, min(int(request.args.get("per_page", 100)), 100))
            number = max(1, int(request.args.get("page", 1)))
            if number * per_page > SEARCH_LIMIT:
                raise ApiError(422, SEARCH_LIMIT_BODY)
            found = sb._search(query, caller, sort_by=request.args.get("sort_by"), order=request.args.get("sort_order"))
            return 200, sb._offset_page("results", found, {"facets": None})

        @route("/search/export", ["GET"])
        def search_export(caller: int) -> tuple[int, Any]:
            """Cursor pages of up to 1,000, no result cap; `filter[type]` is required and wins over `type:`."""
            kind = request.args.get("filter[type]")
            if kind not in search_syntax.TYPES:
                raise ApiError(400, {"error": "InvalidValue", "description": "filter[type] is required"})
            return 200, sb._export_page(kind, caller)

        @route("/search/count", ["GET"])
        def search_count(caller: int) -> tuple[int, Any]:
            return 200, {"count": len(sb._search(search_syntax.parse(request.args.get("query", "")), caller))}

        return api, control_blueprint("zendesk", self.control, self.emitter, self.reset)

    def unrouted(self, status: int) -> Response | None:
        """A path or method the API does not have: Zendesk's `InvalidEndpoint` (it answers 404 for both)."""
        if not request.path.startswith("/api/v2/"):
            return None
        resp = jsonify({"error": "InvalidEndpoint", "description": "Not found"})
        resp.status_code = 404
        return resp

    def _search(
        self,
        query: search_syntax.Query,
        caller: int,
        *,
        sort_by: str | None = None,
        order: str | None = None,
        export: bool = False,
    ) -> list[dict[str, Any]]:
        """Every record the query matches, as search results (`result_type` added). Export orders by
        `created_at` newest first (ties by id, as its cursor says); search by `sort_by`/`order_by:`."""
        directory = _Directory(self, caller)
        now = datetime.now(UTC)
        tables: dict[str, dict[int, dict[str, Any]]] = {
            "ticket": self.state.tickets,
            "user": self.state.users,
            "organization": self.state.organizations,
            "group": self.state.groups,
        }
        found = [  # matched on the stored records, copied only when they match (a desk of 100,000 tickets)
            {**self._ticket_json(record), "result_type": kind}
            for kind, records in tables.items()
            if not query.types or kind in query.types
            for record in records.values()
            if search_syntax.matches(record, kind, query, directory, now)
        ]
        if export:
            found.sort(key=lambda r: r["id"])
            found.sort(key=lambda r: str(r.get("created_at") or ""), reverse=True)
            return found
        field_name = search_syntax.SORTABLE.get(str(sort_by or "").lower()) or query.sort_by
        if field_name is None:
            return sorted(found, key=lambda r: r["id"])  # the sandbox's stand-in for relevance: stable
        found.sort(key=search_syntax.sort_key(field_name), reverse=(order or query.sort_order or "desc") == "desc")
        return found


class _Directory:
    """Resolves the names a search query uses against the sandbox's state (`me` is the caller)."""

    def __init__(self, sandbox: ZendeskSandbox, caller: int) -> None:
        self.state, self.caller = sandbox.state, caller

    def user_ids(self, ref: str) -> set[int]:
        ref = ref.lower()
        if ref == "me":
            return {self.caller}
        return {
            uid
            for uid, u in self.state.users.items()
            if ref in (str(uid), str(u.get("email") or "").lower(), str(u.get("name") or "").lower())
        }

    def group_ids(self, ref: str) -> set[int]:
        return {gid for gid, g in self.state.groups.items() if ref.lower() in (str(gid), str(g["name"]).lower())}

    def organization_ids(self, ref: str) -> set[int]:
        return {oid for oid, o in self.state.organizations.items() if ref.lower() in (str(oid), str(o["name"]).lower())}

    def ticket_text(self, ticket: Mapping[str, Any]) -> str:
        comments = self.state.comments.get(int(ticket["id"]), [])
        return " ".join([str(ticket.get("subject") or ""), *(str(c["body"]) for c in comments), *ticket["tags"]])


def _warn_unpermitted(resp: Response, action: str) -> None:
    """Zendesk ignores keys a ticket write may not set, and says so in `x-zendesk-api-warn` (as recorded)."""
    data = request.get_json(silent=True) or {}
    ticket = data.get("ticket") if isinstance(data, Mapping) else None
    if not isinstance(ticket, Mapping):
        return
    unpermitted = [f"ticket.{k}" for k in ticket if k not in TICKET_WRITABLE]
    if unpermitted:
        verb = "create" if action == "create_ticket" else "update"
        keys = ", ".join(f'"{k}"' for k in unpermitted)
        resp.headers["x-zendesk-api-warn"] = (
            f'{{:allowed_parameters=>{{:controller=>"tickets", :action=>"{verb}", :unpermitted_keys=>[{keys}], '
            ":invalid_values=>[]}}"
        )


def _too_many(parameter: str) -> dict[str, Any]:
    return {
        "error": "TooManyValues",
        "description": f"Parameter {parameter} cannot specify more than {MAX_IDS} values",
        "max_count": MAX_IDS,
    }


def _put_or_delete(ids: list[int], uid: int, action: str) -> None:
    if action == "delete":
        if uid in ids:
            ids.remove(uid)
    elif uid not in ids:
        ids.append(uid)


def _sid(value: Any) -> str | None:
    return str(value) if value is not None else None
