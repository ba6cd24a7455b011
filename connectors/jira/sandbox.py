"""A stateful fake of Jira (Cloud or Data Center) with Jira Service Management, at the real REST paths.

Platform API (`/rest/api/2` and `/3`: issues, transitions, comments, links, JQL search with
`nextPageToken`, users, groups) and the service desk API (`/rest/servicedeskapi`: requests, their
customer-visible or internal comments, participants, request types, customers), with Jira's error bodies
(`{"errorMessages": [...], "errors": {...}}`), 400 for missing fields and unknown transitions, 404 for
unknown issues, rate-limit headers and 429 + `Retry-After` from the shared sandbox kit. Like an admin
webhook with a secret, it posts signed `jira:issue_created`, `jira:issue_updated` (with changelog) and
`comment_created` events to the bot. Anyone of the demo site authenticates with any API token.

Two deployments, chosen when the sandbox is made (`JiraSandbox("cloud")` or `JiraSandbox("datacenter")`),
serve only what that deployment has, so a client written for one fails against the other as it would
for real:

- **cloud**: REST v2 and v3; users are `accountId`s with an `accountType`; search is `/search/jql` with
  `nextPageToken` plus `/search/approximate-count` (the old `/search` answers 410 Gone, as Atlassian
  removed it); `/project/search`; v3 takes descriptions and comments as ADF documents only (a string is
  400), v2 as strings; unknown routes answer 404 `application/problem+json`.
- **datacenter**: REST v2 only (`/rest/api/3/...` is 404); users are `name`/`key`; `serverInfo` says
  `Server`; search is `/rest/api/2/search` with `startAt`/`total`; user lookups take `username`;
  descriptions and comments must be wiki-markup strings (an ADF document is 400); the service desk API
  names users and takes participants by `usernames`; unknown routes answer Jersey's `null for uri` 404.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.jira import jql
from connectors.jira.webhook import sign
from connectors.sandbox_kit import SandboxControl, WebhookEmitter, basic_login, control_blueprint, guard

REQUEST_TYPE_FIELD = "customfield_10010"
CHANNEL_PROPERTY = "request.channel.type"
PARTICIPANTS_FIELD = "customfield_10011"
AUDIT_FIELD = "customfield_10050"
"""The demo site's "Bot triage" paragraph field (`desks.jira.audit_field`): rich text, so ADF in REST v3."""
FOLLOWUP_FIELD = "customfield_10051"
"""The demo site's "Bot follow-up" paragraph field (`desks.jira.followup_field`): the bot's last follow-up step and
its notes. Rich text like `AUDIT_FIELD`; read back as ADF in REST v3 and as text in v2, whichever it was written in."""
INTERNAL_PROPERTY = "sd.public.comment"
"""The comment property that makes a comment added through the platform API internal on a JSM request."""
REQUEST_TYPES = {
    "1": "General inquiry",
    "2": "Technical support",
    "3": "Configuration change",
    "4": "Feedback",
    "5": "Phone-only service request",
    "6": "Incident",
}
STATUSES = {
    "10001": ("Waiting for support", "new"),
    "10002": ("Waiting for customer", "indeterminate"),
    "10003": ("Pending", "indeterminate"),
    "10004": ("In progress", "indeterminate"),
    "10005": ("Resolved", "done"),
    "10006": ("Closed", "done"),
    "10010": ("To Do", "new"),
    "10011": ("Done", "done"),
}
SD_TRANSITIONS = [
    ("11", "Respond to customer", "10002"),
    ("21", "Back to support", "10001"),
    ("31", "Pending", "10003"),
    ("41", "Start progress", "10004"),
    ("51", "Resolve this issue", "10005"),
    ("61", "Close", "10006"),
]
DEV_TRANSITIONS = [("71", "Done", "10011"), ("81", "Reopen", "10010")]
RESOLUTIONS = ("Done", "Won't Do", "User not responded", "Duplicate", "Known error")
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
PAGE = 50
EMBEDDED_COMMENTS = 100
"""Comments an issue read embeds (a page of the comment endpoint); `total` tells a client there are more."""
MODES = ("cloud", "datacenter")
PROJECTS = {
    "SD": {"id": "10000", "name": "Service Desk", "projectTypeKey": "service_desk", "issuetypes": ("10100",)},
    "DEV": {"id": "10001", "name": "Development", "projectTypeKey": "software", "issuetypes": ("10200", "10201")},
    "FEED": {"id": "10002", "name": "Product Feedback", "projectTypeKey": "software", "issuetypes": ("10201",)},
}
ISSUE_TYPES = {
    "10100": ("Service Request", "A request raised through the customer portal."),
    "10200": ("Bug", "A problem which impairs or prevents the functions of the product."),
    "10201": ("Task", "A task that needs to be done."),
}
ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
UNKNOWN_FIELD = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
FIELDS_ON_CREATE = {"project", "issuetype", "summary", "description", "labels", "priority", "assignee", "reporter"}


SLA_GOAL = timedelta(hours=4)
"""The goal of the sandbox's one SLA metric ("Time to first response")."""


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")


def _date(t: datetime) -> dict[str, Any]:
    """A JSM date object."""
    return {"iso8601": t.strftime("%Y-%m-%dT%H:%M:%S%z"), "epochMillis": int(t.timestamp() * 1000)}


def _friendly(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("", minutes)
    return f"{sign}{minutes // 60}h {minutes % 60}m"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}+0000"


def error_body(status: int) -> dict[str, Any]:
    messages = {
        400: "The request is invalid.",
        401: "Client must be authenticated to access this resource.",
        403: "You do not have permission to perform this operation.",
        404: "Issue does not exist or you do not have permission to see it.",
        409: "The issue was modified by another request.",
        429: "Rate limit exceeded.",
    }
    return {"errorMessages": [messages.get(status, "Internal server error")], "errors": {}}


def rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": datetime.fromtimestamp(datetime.now(UTC).timestamp() + reset, UTC).isoformat(),
    }


class ApiError(Exception):
    def __init__(self, status: int, messages: list[str] | None = None, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = (
            {"errorMessages": messages or [], "errors": dict(errors or {})}
            if messages or errors
            else error_body(status)
        )


@dataclass
class State:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    """Account type (`atlassian` or `customer`) by user id: Data Center's user objects do not say."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    remote_links: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Changelog entries by issue key, oldest first (`expand=changelog`)."""
    counters: dict[str, itertools.count[int]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(10100))


class JiraSandbox:
    desk = "jira"

    def __init__(self, mode: str = "cloud") -> None:
        if mode not in MODES:
            raise ValueError(f"Jira sandbox mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.cloud = mode == "cloud"
        self.control = SandboxControl("jira", error_body, rate_headers)
        self.emitter = WebhookEmitter(sign)
        self.state = State()
        self._lock = threading.RLock()
        self.base_url = "https://sandbox.atlassian.net" if self.cloud else "https://jira.sandbox.example"
        self.rest = "/rest/api/3" if self.cloud else "/rest/api/2"

    # --- state -------------------------------------------------------------------------------------

    def reset(self, seed: bool) -> None:
        with self._lock:
            self.state = State(counters={key: itertools.count(1) for key in PROJECTS})
            if seed:
                self._seed()

    def _user(self, account_id: str, name: str, email: str, kind: str) -> None:
        """A user as the deployment shows one: Cloud by `accountId` (with its type), Data Center by `name`
        and `key` (the sandbox's users are old enough that their key is their name)."""
        self.state.kinds[account_id] = kind
        ident: dict[str, Any] = {"accountId": account_id, "accountType": kind}
        if not self.cloud:
            ident = {"key": account_id, "name": account_id, "deleted": False, "locale": "en_US"}
        query = f"accountId={account_id}" if self.cloud else f"username={account_id}"
        self.state.users[account_id] = {
            "self": f"{self.base_url}{self.rest}/user?{query}",
            **ident,
            "emailAddress": email,
            "displayName": name,
            "active": True,
            "timeZone": "Europe/Berlin",
            "avatarUrls": {"48x48": f"{self.base_url}/avatar/{account_id}"},
        }

    def _seed(self) -> None:
        self._user("bot-0001", "Helpdesk Bot", "bot@example.com", "atlassian")
        for aid, name, email in (
            ("agent-alice", "Alice Agent", "alice@example.com"),
            ("agent-bob", "Bob Agent", "bob@example.com"),
            ("agent-carol", "Carol Agent", "carol@example.com"),
            ("agent-dave", "Dave Devlead", "dave@example.com"),
            ("agent-sam", "Sam Staff", "sam@example.com"),
        ):
            self._user(aid, name, email, "atlassian")
        self._user("cust-cathy", "Cathy Customer", "cathy@acme.test", "customer")
        self._user("cust-gary", "Gary Globex", "gary@globex.test", "customer")
        self.state.groups = {"support": ["agent-alice", "agent-bob", "agent-carol"], "escalations": ["agent-bob"]}
        first = self._create(
            "SD", "cust-cathy", {"summary": "Invoice copy", "description": "Please send me a copy."}, emit=False
        )
        first["fields"]["assignee"] = self.state.users["agent-alice"]
        self._create(
            "SD", "cust-gary", {"summary": "Question about limits", "description": "What are the limits?"}, emit=False
        )

    def _org(self, account_id: str) -> list[dict[str, Any]]:
        email = self.state.users[account_id]["emailAddress"]
        if email.endswith("@acme.test"):
            return [{"id": "1", "name": "Acme"}]
        if email.endswith("@globex.test"):
            return [{"id": "2", "name": "Globex"}]
        return []

    def _status(self, status_id: str) -> dict[str, Any]:
        name, category = STATUSES[status_id]
        return {"id": status_id, "name": name, "statusCategory": {"key": category, "name": category.title()}}

    def _create(
        self,
        project: str,
        reporter: str,
        fields: Mapping[str, Any],
        *,
        request_type: str | None = None,
        channel: str | None = None,
        emit: bool = True,
        version: int = 2,
    ) -> dict[str, Any]:
        if not fields.get("summary"):
            raise ApiError(400, errors={"summary": "You must specify a summary of the issue."})
        _check_text("description", fields.get("description"), version)
        number = next(self.state.counters[project])
        key = f"{project}-{number}"
        issue_id = str(next(self.state.ids))
        now = _now()
        service = project == "SD"
        type_id = self._issue_type_id(project, fields.get("issuetype") or {"id": PROJECTS[project]["issuetypes"][0]})
        issue = {
            "id": issue_id,
            "key": key,
            "self": f"{self.base_url}{self.rest}/issue/{issue_id}",
            "fields": {
                "summary": str(fields["summary"]),
                "description": fields.get("description"),
                "status": self._status("10001" if service else "10010"),
                "reporter": self.state.users[reporter],
                "creator": self.state.users[reporter],
                "assignee": None,
                "priority": {"id": "3", "name": "Medium"},
                "labels": list(fields.get("labels") or []),
                "created": now,
                "updated": now,
                "resolution": None,
                "resolutiondate": None,
                "project": {
                    "id": PROJECTS[project]["id"],
                    "key": project,
                    "name": PROJECTS[project]["name"],
                    "projectTypeKey": PROJECTS[project]["projectTypeKey"],
                },
                "issuetype": {"id": type_id, "name": ISSUE_TYPES[type_id][0], "subtask": False},
                REQUEST_TYPE_FIELD: self._request_type(request_type or "1") if service else None,
                PARTICIPANTS_FIELD: [],
                AUDIT_FIELD: None,
                FOLLOWUP_FIELD: None,
                "customfield_10002": self._org(reporter) if service else [],
                "issuelinks": [],
            },
            # JSM keeps the request's channel as an entity property, not a field (read with `?properties=`)
            "properties": {CHANNEL_PROPERTY: {"value": channel or ("portal" if service else "jira")}},
        }
        self.state.issues[key] = issue
        self.state.comments[key] = []
        if emit:
            self._emit("jira:issue_created", "issue_created", issue, reporter)
        return issue

    def _issue_type_id(self, project: str, wanted: Mapping[str, Any]) -> str:
        """The id of the issue type `{"id": ...}` or `{"name": ...}` names, if the project has it (else 400)."""
        for type_id in PROJECTS[project]["issuetypes"]:
            if str(wanted.get("id") or "") == type_id or wanted.get("name") == ISSUE_TYPES[type_id][0]:
                return type_id
        raise ApiError(400, errors={"issuetype": "The issue type selected is invalid."})

    def _project_key(self, ref: Any) -> str:
        """A project's key from its key or id (`{"key": "DEV"}`, `{"id": "10001"}`, `"DEV"`)."""
        if isinstance(ref, Mapping):
            ref = ref.get("key") or ref.get("id")
        for key, project in PROJECTS.items():
            if str(ref) in (key, project["id"]):
                return key
        raise ApiError(404, [f"No project could be found with key '{ref}'."])

    def _request_type(self, type_id: str) -> dict[str, Any]:
        if type_id not in REQUEST_TYPES:
            raise ApiError(400, errors={REQUEST_TYPE_FIELD: f"Request type {type_id} does not exist."})
        return {
            "_links": {"self": f"{self.base_url}/rest/servicedeskapi/servicedesk/1/requesttype/{type_id}"},
            "requestType": {"id": type_id, "name": REQUEST_TYPES[type_id], "serviceDeskId": "1"},
            "currentStatus": {"status": "Waiting for support"},
        }

    def _issue(self, ref: str) -> dict[str, Any]:
        issue = self.state.issues.get(ref) or next((i for i in self.state.issues.values() if i["id"] == ref), None)
        if issue is None:
            raise ApiError(404, ["Issue does not exist or you do not have permission to see it."])
        return issue

    def _account(self, value: Any, field_name: str) -> dict[str, Any] | None:
        """The user a request names: Cloud by `accountId`, Data Center by `name` (or `key`); each
        deployment ignores the other's property, so naming a user the wrong way finds nobody."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            account = value.get("accountId") if self.cloud else (value.get("name") or value.get("key"))
        else:
            account = value
        if account not in self.state.users:
            raise ApiError(400, errors={field_name: f"User '{account}' does not exist."})
        return self.state.users[str(account)]

    def _first_response_sla(self, issue: dict[str, Any]) -> dict[str, Any]:
        start = _parse(issue["fields"]["created"])
        breach = start + SLA_GOAL
        answered = [
            _parse(c["created"])
            for c in self.state.comments[issue["key"]]
            if c["jsdPublic"] and self._kind(c["author"].get("accountId") or c["author"].get("key", "")) != "customer"
        ]
        goal = {"millis": int(SLA_GOAL.total_seconds() * 1000), "friendly": _friendly(SLA_GOAL)}
        metric: dict[str, Any] = {"id": "1", "name": "Time to first response", "completedCycles": []}
        if answered:
            stop = min(answered)
            metric["completedCycles"] = [
                {
                    "startTime": _date(start),
                    "stopTime": _date(stop),
                    "breachTime": _date(breach),
                    "breached": stop > breach,
                    "goalDuration": goal,
                    "elapsedTime": {"millis": int((stop - start).total_seconds() * 1000)},
                    "remainingTime": {"millis": int((breach - stop).total_seconds() * 1000)},
                }
            ]
            return metric
        now = datetime.now(UTC)
        metric["ongoingCycle"] = {
            "startTime": _date(start),
            "breachTime": _date(breach),
            "breached": now > breach,
            "paused": False,
            "withinCalendarHours": True,
            "goalDuration": goal,
            "elapsedTime": {"millis": int((now - start).total_seconds() * 1000)},
            "remainingTime": {
                "millis": int((breach - now).total_seconds() * 1000),
                "friendly": _friendly(breach - now),
            },
        }
        return metric

    def _kind(self, account: str) -> str:
        return self.state.kinds.get(account, "atlassian")

    def _edit(self, issue: dict[str, Any], actor: str, body: Mapping[str, Any], version: int = 2) -> None:
        fields = issue["fields"]
        items: list[dict[str, Any]] = []
        given = dict(body.get("fields") or {})
        errors: dict[str, str] = {}
        known = {
            "summary",
            "description",
            "assignee",
            "reporter",
            "priority",
            "labels",
            REQUEST_TYPE_FIELD,
            PARTICIPANTS_FIELD,
            AUDIT_FIELD,
            FOLLOWUP_FIELD,
        }
        for name in ("description", AUDIT_FIELD, FOLLOWUP_FIELD):
            _check_text(name, given.get(name), version)
        for name in given:
            if name not in known:
                errors[name] = UNKNOWN_FIELD.format(name)
        operations = dict(body.get("update") or {})
        for name, ops in operations.items():
            allowed = {"labels": ("add", "remove", "set"), PARTICIPANTS_FIELD: ("add", "remove"), "comment": ("add",)}
            if name not in allowed:
                errors[name] = UNKNOWN_FIELD.format(name)
            elif not isinstance(ops, list) or any(
                not isinstance(o, Mapping) or set(o) - set(allowed[name]) for o in ops
            ):
                errors[name] = f"Field '{name}' does not support these operations: {ops!r}"
        for op in operations.get("comment") or []:
            _check_text("comment", (op.get("add") or {}).get("body"), version)
        if errors:
            raise ApiError(400, errors=errors)
        for name, value in given.items():
            old = fields.get(name)
            if name in ("assignee", "reporter"):
                new: Any = self._account(value, name)
                to_string = new["displayName"] if new else None
                from_string = old["displayName"] if old else None
            elif name == "priority":
                pid = next((k for k, v in PRIORITIES.items() if v == value.get("name") or k == value.get("id")), None)
                if pid is None:
                    raise ApiError(400, errors={"priority": "The priority selected is invalid."})
                new, from_string, to_string = (
                    {"id": pid, "name": PRIORITIES[pid]},
                    (old or {}).get("name"),
                    PRIORITIES[pid],
                )
            elif name == REQUEST_TYPE_FIELD:
                new = self._request_type(str(value.get("id") if isinstance(value, Mapping) else value))
                from_string, to_string = (old or {}).get("requestType", {}).get("name"), new["requestType"]["name"]
            elif name == PARTICIPANTS_FIELD:
                new = [self._account(v, name) for v in value]
                from_string, to_string = None, ", ".join(u["displayName"] for u in new if u)
            else:
                new, from_string, to_string = value, _text(old), _text(value)
            if new != old:
                fields[name] = new
                items.append(
                    {
                        "field": name,
                        "fieldtype": "custom" if name.startswith("customfield") else "jira",
                        "fieldId": name,
                        "from": None,
                        "fromString": from_string,
                        "to": None,
                        "toString": to_string,
                    }
                )
        for op in operations.get("labels") or []:
            if "add" in op and op["add"] not in fields["labels"]:
                fields["labels"].append(op["add"])
                items.append({"field": "labels", "fieldtype": "jira", "fromString": "", "toString": op["add"]})
            if "remove" in op and op["remove"] in fields["labels"]:
                fields["labels"].remove(op["remove"])
        for op in operations.get(PARTICIPANTS_FIELD) or []:
            current = [jql.user_id(u) for u in fields[PARTICIPANTS_FIELD]]
            user = self._account(op["add"], PARTICIPANTS_FIELD) if "add" in op else None
            if user and jql.user_id(user) not in current:
                fields[PARTICIPANTS_FIELD].append(user)
                items.append({"field": PARTICIPANTS_FIELD, "fieldtype": "custom", "toString": user["displayName"]})
            gone = self._account(op["remove"], PARTICIPANTS_FIELD) if "remove" in op else None
            if gone:
                fields[PARTICIPANTS_FIELD] = [u for u in fields[PARTICIPANTS_FIELD] if u != gone]
        if items:
            fields["updated"] = _now()
            kind = "issue_assigned" if any(i["field"] == "assignee" for i in items) else "issue_updated"
            self._emit("jira:issue_updated", kind, issue, actor, changelog=items)
        for op in operations.get("comment") or []:  # an edit's comment lands after its fields, as in the UI
            add = op["add"]
            internal = any(
                p.get("key") == INTERNAL_PROPERTY and (p.get("value") or {}).get("internal") is True
                for p in add.get("properties") or []
            )
            self._comment(issue, actor, add.get("body"), public=not internal, version=version)

    def _transition(self, issue: dict[str, Any], actor: str, body: Mapping[str, Any]) -> None:
        wanted = str((body.get("transition") or {}).get("id") or "")
        options = SD_TRANSITIONS if issue["fields"]["project"]["key"] == "SD" else DEV_TRANSITIONS
        match = next((t for t in options if t[0] == wanted), None)
        if match is None:
            raise ApiError(400, [f"Transition id '{wanted}' is not valid for this issue."])
        fields = issue["fields"]
        resolution = ((body.get("fields") or {}).get("resolution") or {}).get("name")
        if resolution is not None and resolution not in RESOLUTIONS:  # refused before anything changes
            raise ApiError(400, errors={"resolution": f"Resolution '{resolution}' is not valid."})
        old = fields["status"]
        fields["status"] = self._status(match[2])
        items = [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": old["id"],
                "fromString": old["name"],
                "to": match[2],
                "toString": fields["status"]["name"],
            }
        ]
        if fields["status"]["statusCategory"]["key"] == "done":
            if resolution is None and fields.get("resolution"):
                resolution = fields["resolution"]["name"]  # Resolved -> Closed keeps the resolution it had
            fields["resolution"] = {"name": resolution or "Done"}
            fields["resolutiondate"] = _now()
            items.append(
                {"field": "resolution", "fieldtype": "jira", "fromString": None, "toString": resolution or "Done"}
            )
        else:
            fields["resolution"] = None
        fields["updated"] = _now()
        self._emit("jira:issue_updated", "issue_generic", issue, actor, changelog=items)

    def _comment(self, issue: dict[str, Any], actor: str, body: Any, public: bool, version: int = 2) -> dict[str, Any]:
        if body in (None, "", {}):
            raise ApiError(400, errors={"comment": "Comment body can not be empty!"})
        _check_text("comment", body, version)
        comment_id = str(next(self.state.ids))
        comment = {
            "id": comment_id,
            "self": f"{self.base_url}{self.rest}/issue/{issue['id']}/comment/{comment_id}",
            "author": self.state.users[actor],
            "updateAuthor": self.state.users[actor],
            "body": body,
            "created": _now(),
            "updated": _now(),
            "jsdPublic": public,
        }
        self.state.comments[issue["key"]].append(comment)
        if public and self._kind(actor) == "customer" and issue["fields"]["status"]["id"] == "10002":
            issue["fields"]["status"] = self._status("10001")
        issue["fields"]["updated"] = _now()
        self._emit("comment_created", None, issue, actor, comment=comment)
        return comment

    # --- webhooks ----------------------------------------------------------------------------------

    def _emit(
        self,
        event: str,
        type_name: str | None,
        issue: Mapping[str, Any],
        actor: str,
        changelog: list[dict[str, Any]] | None = None,
        comment: Mapping[str, Any] | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "webhookEvent": event,
            "user": self.state.users[actor],
            "issue": self._issue_json(issue, 2),
        }
        if type_name:
            payload["issue_event_type_name"] = type_name
        if changelog:
            payload["changelog"] = {"id": str(next(self.state.ids)), "items": changelog}
            self.state.histories.setdefault(str(issue["key"]), []).append(
                {
                    "id": payload["changelog"]["id"],
                    "author": self.state.users[actor],
                    "created": issue["fields"]["updated"],
                    # The REST changelog leaves out what is not set (the webhook's items carry nulls).
                    "items": [{k: v for k, v in item.items() if v is not None} for item in changelog],
                }
            )
        if comment is not None:
            payload["comment"] = {**comment, "body": _text(comment["body"])}
            payload["eventType"] = "primaryAction"
        self.emitter.emit(payload)

    # --- JSON --------------------------------------------------------------------------------------

    def _issue_json(
        self,
        issue: Mapping[str, Any],
        version: int,
        wanted: set[str] | None = None,
        properties: frozenset[str] | set[str] = frozenset(),
    ) -> dict[str, Any]:
        fields = dict(issue["fields"])
        for name in ("description", FOLLOWUP_FIELD):  # rich text in the API version asked
            value = fields.get(name)
            if version == 3 and isinstance(value, str):
                fields[name] = _adf(value)
            elif version == 2:
                fields[name] = _text(value)
        if wanted and "*all" not in wanted:
            fields = {k: v for k, v in fields.items() if k in wanted}
        body = {
            "expand": "renderedFields,names,schema,operations",
            "id": issue["id"],
            "self": issue["self"],
            "key": issue["key"],
            "fields": fields,
        }
        if properties:
            stored = issue["properties"]
            body["properties"] = {k: v for k, v in stored.items() if k in properties or "*all" in properties}
        return body

    def _caller(self) -> str:
        login = basic_login()
        if login is None:
            raise ApiError(401)
        account = next(
            (a for a, u in self.state.users.items() if login in (u["emailAddress"].lower(), a.lower())), None
        )
        if account is None:
            raise ApiError(401)
        return account

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        api = Blueprint("jira_api", __name__, url_prefix="/rest")
        guard(api, self.control)
        sb = self

        def route(rules: list[str], methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
                def view(**kw: Any) -> Response:
                    try:
                        with sb._lock:
                            status, body = fn(sb._caller(), **kw)
                    except ApiError as exc:
                        status, body = exc.status, exc.body
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        status, body = 400, {"errorMessages": [f"Invalid request payload: {exc}"], "errors": {}}
                    if status >= 400 and request.path.startswith("/rest/servicedeskapi/"):
                        body = _sd_error(body)
                    if status == 204:
                        return Response(status=204)
                    resp = jsonify(body)
                    resp.status_code = status
                    return resp

                for index, rule in enumerate(rules):
                    if "/api/latest/" in rule:  # `latest` is version 2 (the `jira` client assigns through it)
                        api.add_url_rule(rule, f"{fn.__name__}_{index}", view, methods=methods, defaults={"v": 2})
                    else:
                        api.add_url_rule(rule, f"{fn.__name__}_{index}", view, methods=methods)
                return fn

            return wrap

        def both(path: str) -> list[str]:
            """The platform route in every REST version the deployment has (Cloud 2 and 3, Data Center 2)."""
            return [f"/api/<int(min=2,max={3 if sb.cloud else 2}):v>{path}", f"/api/latest{path}"]

        def cloud_only(path: str) -> list[str]:
            return both(path) if sb.cloud else []

        def datacenter_only(path: str) -> list[str]:
            return [] if sb.cloud else both(path)

        @route(both("/serverInfo"), ["GET"])
        def server_info(caller: str, v: int) -> tuple[int, Any]:
            version = [1001, 0, 0] if sb.cloud else [9, 12, 15]
            return 200, {
                "baseUrl": request.host_url.rstrip("/"),
                "version": "1001.0.0-SNAPSHOT" if sb.cloud else "9.12.15",
                "versionNumbers": version,
                "deploymentType": "Cloud" if sb.cloud else "Server",  # Data Center says Server too
                "buildNumber": 100275 if sb.cloud else 9120015,
                "buildDate": "2026-01-01T00:00:00.000+0000",
                "serverTime": _now(),
                "scmInfo": "sandbox",
                "serverTitle": "Jira",
            }

        @route(both("/project"), ["GET"])
        def projects(caller: str, v: int) -> tuple[int, Any]:
            return 200, [sb._project_json(key, v) for key in PROJECTS]

        @route(cloud_only("/project/search"), ["GET"])
        def project_search(caller: str, v: int) -> tuple[int, Any]:
            start, size = int(request.args.get("startAt") or 0), min(int(request.args.get("maxResults") or 50), 100)
            keys = list(PROJECTS)[start : start + size]
            return 200, {
                "self": request.url,
                "maxResults": size,
                "startAt": start,
                "total": len(PROJECTS),
                "isLast": start + size >= len(PROJECTS),
                "values": [sb._project_json(k, v) for k in keys],
            }

        @route(both("/project/<ref>"), ["GET"])
        def project(caller: str, v: int, ref: str) -> tuple[int, Any]:
            key = sb._project_key(ref)
            types = [sb._issue_type_json(t, v) for t in PROJECTS[key]["issuetypes"]]
            lead = sb.state.users.get("agent-dave") or next(iter(sb.state.users.values()), None)
            return 200, {
                **sb._project_json(key, v),
                "description": "",
                "lead": lead,
                "components": [],
                "issueTypes": types,
                "assigneeType": "UNASSIGNED",
                "versions": [],
                "roles": {},
            }

        @route(both("/issuetype"), ["GET"])
        def issue_types(caller: str, v: int) -> tuple[int, Any]:
            return 200, [sb._issue_type_json(t, v) for t in ISSUE_TYPES]

        @route(both("/issuetype/<type_id>"), ["GET"])
        def issue_type(caller: str, v: int, type_id: str) -> tuple[int, Any]:
            if type_id not in ISSUE_TYPES:
                raise ApiError(404, ["The issue type with id '" + type_id + "' does not exist"])
            return 200, sb._issue_type_json(type_id, v)

        @route(both("/myself"), ["GET"])
        def myself(caller: str, v: int) -> tuple[int, Any]:
            return 200, sb.state.users[caller]

        @route(both("/field"), ["GET"])
        def fields(caller: str, v: int) -> tuple[int, Any]:
            def fld(fid: str, name: str, custom: bool, schema: dict[str, Any]) -> dict[str, Any]:
                return {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": custom,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [fid],
                    "schema": schema,
                }

            return 200, [
                fld("summary", "Summary", False, {"type": "string", "system": "summary"}),
                fld("description", "Description", False, {"type": "string", "system": "description"}),
                fld(
                    REQUEST_TYPE_FIELD,
                    "Request Type",
                    True,
                    {
                        "type": "sd-customerrequesttype",
                        "custom": "com.atlassian.servicedesk:vp-origin",
                        "customId": 10010,
                    },
                ),
                fld(
                    AUDIT_FIELD,
                    "Bot triage",
                    True,
                    {
                        "type": "string",
                        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                        "customId": 10050,
                    },
                ),
                fld(
                    FOLLOWUP_FIELD,
                    "Bot follow-up",
                    True,
                    {
                        "type": "string",
                        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                        "customId": 10051,
                    },
                ),
                fld(
                    PARTICIPANTS_FIELD,
                    "Request participants",
                    True,
                    {
                        "type": "array",
                        "items": "user",
                        "custom": "com.atlassian.servicedesk:sd-request-participants",
                        "customId": 10011,
                    },
                ),
            ]

        @route(both("/issue"), ["POST"])
        def create_issue(caller: str, v: int) -> tuple[int, Any]:
            data = request.get_json(force=True)["fields"]
            try:
                project = sb._project_key(data.get("project") or "")
            except ApiError:
                raise ApiError(400, errors={"project": "Specify a valid project ID or key"}) from None
            if not (data.get("issuetype") or {}).get("name") and not (data.get("issuetype") or {}).get("id"):
                raise ApiError(400, errors={"issuetype": "Specify an issue type"})
            known = FIELDS_ON_CREATE | ({REQUEST_TYPE_FIELD} if project == "SD" else set())
            unknown = {n: UNKNOWN_FIELD.format(n) for n in data if n not in known}
            if unknown:
                raise ApiError(400, errors=unknown)
            issue = sb._create(project, caller, data, version=v)
            return 201, {"id": issue["id"], "key": issue["key"], "self": issue["self"]}

        @route(both("/issue/<ref>"), ["GET"])
        def get_issue(caller: str, v: int, ref: str) -> tuple[int, Any]:
            wanted = set(",".join(request.args.getlist("fields")).split(",")) - {""}
            properties = set(",".join(request.args.getlist("properties")).split(",")) - {""}
            body = sb._issue_json(sb._issue(ref), v, wanted or None, properties)
            if "changelog" in str(request.args.get("expand") or ""):
                histories = sb.state.histories.get(body["key"], [])[-100:]  # Cloud: the latest 100
                total = len(sb.state.histories.get(body["key"], []))
                body["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": total, "histories": histories}
            if not wanted or wanted & {"comment", "*all"}:
                comments = sb.state.comments[body["key"]]
                shown = comments[:EMBEDDED_COMMENTS]
                body["fields"]["comment"] = {
                    "comments": [{**c, "body": _adf(c["body"]) if v == 3 else _text(c["body"])} for c in shown],
                    "total": len(comments),
                    "maxResults": len(shown),
                    "startAt": 0,
                }
            return 200, body

        @route(both("/issue/<ref>/properties/<key>"), ["GET"])
        def issue_property(caller: str, v: int, ref: str, key: str) -> tuple[int, Any]:
            stored = sb._issue(ref)["properties"]
            if key not in stored:
                raise ApiError(404, [f"The property with key '{key}' was not found."])
            return 200, {"key": key, "value": stored[key]}

        @route(both("/issue/<ref>"), ["PUT"])
        def edit_issue(caller: str, v: int, ref: str) -> tuple[int, Any]:
            sb._edit(sb._issue(ref), caller, request.get_json(force=True), version=v)
            return 204, None

        @route(both("/issue/<ref>/assignee"), ["PUT"])
        def assign(caller: str, v: int, ref: str) -> tuple[int, Any]:
            sb._edit(sb._issue(ref), caller, {"fields": {"assignee": request.get_json(force=True)}})
            return 204, None

        @route(both("/issue/<ref>/transitions"), ["GET"])
        def transitions(caller: str, v: int, ref: str) -> tuple[int, Any]:
            issue = sb._issue(ref)
            options = SD_TRANSITIONS if issue["fields"]["project"]["key"] == "SD" else DEV_TRANSITIONS
            return 200, {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": tid,
                        "name": name,
                        "to": sb._status(to),
                        "hasScreen": False,
                        "isGlobal": True,
                        "isInitial": False,
                        "isAvailable": True,
                        "isConditional": False,
                        "isLooped": False,
                    }
                    for tid, name, to in options
                    if to != issue["fields"]["status"]["id"]
                ],
            }

        @route(both("/issue/<ref>/transitions"), ["POST"])
        def do_transition(caller: str, v: int, ref: str) -> tuple[int, Any]:
            sb._transition(sb._issue(ref), caller, request.get_json(force=True))
            return 204, None

        @route(both("/issue/<ref>/comment"), ["GET"])
        def list_comments(caller: str, v: int, ref: str) -> tuple[int, Any]:
            comments = sb.state.comments[sb._issue(ref)["key"]]
            start, size = int(request.args.get("startAt") or 0), int(request.args.get("maxResults") or 100)
            page = [
                {**c, "body": _adf(c["body"]) if v == 3 else _text(c["body"])} for c in comments[start : start + size]
            ]
            return 200, {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}

        @route(both("/issue/<ref>/comment"), ["POST"])
        def add_comment(caller: str, v: int, ref: str) -> tuple[int, Any]:
            data = request.get_json(force=True)
            internal = any(
                p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal")
                for p in data.get("properties") or []
            )
            return 201, sb._comment(sb._issue(ref), caller, data.get("body"), not internal, version=v)

        @route(both("/issue/<ref>/remotelink"), ["GET"])
        def remote_links(caller: str, v: int, ref: str) -> tuple[int, Any]:
            return 200, sb.state.remote_links.get(sb._issue(ref)["key"], [])

        @route(both("/issue/<ref>/remotelink"), ["POST"])
        def add_remote_link(caller: str, v: int, ref: str) -> tuple[int, Any]:
            """A link to something outside Jira (a Zendesk ticket): `object.url` and `object.title` required."""
            key = sb._issue(ref)["key"]
            data = request.get_json(force=True)
            target = data.get("object") if isinstance(data, dict) else None
            if not isinstance(target, dict) or not target.get("url") or not target.get("title"):
                raise ApiError(400, [], {"object": "A remote link needs an object with a url and a title."})
            link_id = next(sb.state.ids)
            sb.state.remote_links.setdefault(key, []).append({"id": link_id, "object": target})
            return 201, {"id": link_id, "self": f"{sb.base_url}/rest/api/{v}/issue/{key}/remotelink/{link_id}"}

        @route(both("/issueLink"), ["POST"])
        def link(caller: str, v: int) -> tuple[int, Any]:
            data = request.get_json(force=True)
            if (data.get("type") or {}).get("name") not in ("Relates", "Blocks", "Duplicate", "Cloners"):
                name = (data.get("type") or {}).get("name")
                raise ApiError(404, [f"No issue link type with name '{name}' found."])
            inward, outward = sb._issue(data["inwardIssue"]["key"]), sb._issue(data["outwardIssue"]["key"])
            record = {
                "id": str(next(sb.state.ids)),
                "type": {"name": data["type"]["name"], "inward": "relates to", "outward": "relates to"},
            }
            inward["fields"]["issuelinks"].append(
                {**record, "outwardIssue": {"id": outward["id"], "key": outward["key"]}}
            )
            outward["fields"]["issuelinks"].append(
                {**record, "inwardIssue": {"id": inward["id"], "key": inward["key"]}}
            )
            sb.state.links.append({**record, "inward": inward["key"], "outward": outward["key"]})
            return 201, None

        @route(cloud_only("/search/jql"), ["GET", "POST"])
        def search(caller: str, v: int) -> tuple[int, Any]:
            """Cloud's enhanced search: `nextPageToken` pages, no `total`, only `id` unless `fields` asks."""
            args = _search_args()
            size = min(int(args.get("maxResults") or PAGE), 5000)
            start = int(args.get("nextPageToken") or 0)
            found = sb._jql(str(args.get("jql") or ""))
            page = found[start : start + size]
            body: dict[str, Any] = {
                "issues": [sb._issue_json(i, v, _wanted(args, "id")) for i in page],
                "isLast": start + size >= len(found),
            }
            if not body["isLast"]:
                body["nextPageToken"] = str(start + size)
            return 200, body

        @route(datacenter_only("/search"), ["GET", "POST"])
        def search_by_offset(caller: str, v: int) -> tuple[int, Any]:
            """Data Center's search: `startAt`/`maxResults` pages with a `total` (0 results: just count)."""
            args = _search_args()
            size = max(0, min(int(args.get("maxResults", PAGE)), 1000))
            start = int(args.get("startAt") or 0)
            found = sb._jql(str(args.get("jql") or ""))
            return 200, {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [sb._issue_json(i, v, _wanted(args, "*navigable")) for i in found[start : start + size]],
            }

        @route(cloud_only("/search"), ["GET", "POST"])
        def search_removed(caller: str, v: int) -> tuple[int, Any]:
            raise ApiError(
                410,
                [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
                ],
            )

        @route(both("/project/<key>/statuses"), ["GET"])
        def project_statuses(caller: str, v: int, key: str) -> tuple[int, Any]:
            key = sb._project_key(key)
            ids = ["10001", "10002", "10003", "10004", "10005", "10006"] if key == "SD" else ["10010", "10011"]
            type_id, type_name = ("10100", "Service Request") if key == "SD" else ("10200", "Bug")
            statuses = [
                {**sb._status(i), "self": f"{sb.base_url}/rest/api/{v}/status/{i}", "description": ""} for i in ids
            ]
            return 200, [
                {
                    "id": type_id,
                    "name": type_name,
                    "self": f"{sb.base_url}/rest/api/{v}/issuetype/{type_id}",
                    "subtask": False,
                    "statuses": statuses,
                }
            ]

        @route(cloud_only("/search/approximate-count"), ["POST"])
        def count(caller: str, v: int) -> tuple[int, Any]:
            return 200, {"count": len(sb._jql(str(request.get_json(force=True).get("jql") or "")))}

        @route(both("/user/search"), ["GET"])
        def user_search(caller: str, v: int) -> tuple[int, Any]:
            """Cloud takes `query`, Data Center `username`; either matches the start of a name or an email."""
            parameter = "query" if sb.cloud else "username"
            query = str(request.args.get(parameter) or "").lower()
            if not query:
                raise ApiError(400, [f"The query parameter '{parameter}' is required."])
            words = {
                a: [u["emailAddress"].lower(), a.lower(), *u["displayName"].lower().split()]
                for a, u in sb.state.users.items()
            }
            return 200, [sb.state.users[a] for a, ws in words.items() if any(w.startswith(query) for w in ws)]

        @route(both("/user"), ["GET"])
        def user(caller: str, v: int) -> tuple[int, Any]:
            """One user, by `accountId` (Cloud) or `username`/`key` (Data Center); `expand=applicationRoles`
            says whether they may work as an agent (a JSM customer has none)."""
            args = request.args
            account = args.get("accountId", "") if sb.cloud else args.get("username") or args.get("key") or ""
            if account not in sb.state.users:
                raise ApiError(404, ["Specified user does not exist or you do not have required permissions"])
            body = dict(sb.state.users[account])
            expand = str(args.get("expand") or "")
            if "applicationRoles" in expand:
                agent = sb._kind(account) != "customer"
                roles = [{"key": "jira-servicedesk", "name": "Jira Service Management"}] if agent else []
                body["applicationRoles"] = {"size": len(roles), "items": roles}
            if "groups" in expand:
                groups = [{"name": g} for g, members in sb.state.groups.items() if account in members]
                body["groups"] = {"size": len(groups), "items": groups}
            return 200, body

        @route(both("/group/member"), ["GET"])
        def group_member(caller: str, v: int) -> tuple[int, Any]:
            """Members in pages of at most 50 (`startAt`, `maxResults`, `isLast`), as on both deployments."""
            name = str(request.args.get("groupname") or "")
            if name not in sb.state.groups:
                raise ApiError(404, ["Specified group does not exist."])
            members = [sb.state.users[a] for a in sb.state.groups[name]]
            start = int(request.args.get("startAt") or 0)
            size = max(1, min(int(request.args.get("maxResults") or 50), 50))
            return 200, {
                "self": request.url,
                "maxResults": size,
                "startAt": start,
                "total": len(members),
                "isLast": start + size >= len(members),
                "values": members[start : start + size],
            }

        @route(both("/group"), ["GET"])
        def group(caller: str, v: int) -> tuple[int, Any]:
            """The older group resource the `jira` client's `group_members` reads: `expand=users[a:b]` pages."""
            name = str(request.args.get("groupname") or "")
            if name not in sb.state.groups:
                raise ApiError(404, ["Specified group does not exist."])
            members = [sb.state.users[a] for a in sb.state.groups[name]]
            window = re.search(r"users\[(\d+):(\d+)\]", str(request.args.get("expand") or ""))
            first, last = (int(window.group(1)), int(window.group(2))) if window else (0, 49)
            items = members[first : min(last, first + 49) + 1]
            return 200, {
                "name": name,
                "self": request.url,
                "users": {
                    "size": len(members),
                    "items": items,
                    "max-results": 50,
                    "start-index": first,
                    "end-index": first + max(len(items) - 1, 0),
                },
                "expand": "users",
            }

        sd = "/servicedeskapi"

        @route([f"{sd}/request"], ["POST"])
        def create_request(caller: str) -> tuple[int, Any]:
            data = request.get_json(force=True)
            if str(data.get("serviceDeskId")) != "1":
                raise ApiError(404, ["The service desk does not exist."])
            values = data.get("requestFieldValues") or {}
            reporter = caller
            if data.get("raiseOnBehalfOf"):
                reporter = jql.user_id(sb._account(data["raiseOnBehalfOf"], "raiseOnBehalfOf") or {})
            # The experimental `channel` says how the request came in (the sandbox stands for the portal and the
            # mail handler too); without it, a customer's own request is a portal one, an agent's an API one.
            channel = str(data.get("channel") or "").lower() or (
                "portal" if sb.state.kinds[caller] == "customer" else "api"
            )
            issue = sb._create(
                "SD", reporter, values, request_type=str(data.get("requestTypeId") or "1"), channel=channel
            )
            return 201, sb._request_json(issue)

        @route([f"{sd}/request/<ref>"], ["GET"])
        def get_request(caller: str, ref: str) -> tuple[int, Any]:
            return 200, sb._request_json(sb._issue(ref))

        @route([f"{sd}/request/<ref>/comment"], ["GET"])
        def request_comments(caller: str, ref: str) -> tuple[int, Any]:
            issue = sb._issue(ref)
            if PROJECTS[issue["fields"]["project"]["key"]]["projectTypeKey"] != "service_desk":
                raise ApiError(404, [f"The request with key {issue['key']} does not exist."])  # a dev issue
            comments = sb.state.comments[issue["key"]]
            if request.args.get("public") == "true" or sb._kind(caller) == "customer":
                comments = [c for c in comments if c["jsdPublic"]]  # customers never see internal notes
            start = int(request.args.get("start") or 0)
            limit = min(int(request.args.get("limit") or PAGE), 100)
            page = comments[start : start + limit]
            values = [
                {
                    "id": c["id"],
                    "body": _text(c["body"]),
                    "public": c["jsdPublic"],
                    "author": sb._sd_user(c["author"]),
                    "created": {"iso8601": c["created"], "epochMillis": 0},
                }
                for c in page
            ]
            last = start + limit >= len(comments)
            return 200, {"size": len(values), "start": start, "limit": limit, "isLastPage": last, "values": values}

        @route([f"{sd}/request/<ref>/comment"], ["POST"])
        def request_comment(caller: str, ref: str) -> tuple[int, Any]:
            data = request.get_json(force=True)
            if not isinstance(data.get("body"), str) or not isinstance(data.get("public", True), bool):
                raise ApiError(400, ["body must be text and public a boolean"])
            if not data.get("public", True) and sb._kind(caller) == "customer":
                raise ApiError(400, ["Customers can set comments to public visibility only."])
            comment = sb._comment(sb._issue(ref), caller, data["body"], data.get("public", True))
            return 201, {
                "id": comment["id"],
                "body": comment["body"],
                "public": comment["jsdPublic"],
                "author": sb._sd_user(comment["author"]),
                "created": {"iso8601": comment["created"]},
            }

        @route([f"{sd}/request/<ref>/sla"], ["GET"])
        def request_sla(caller: str, ref: str) -> tuple[int, Any]:
            """The request's SLA metrics (agents only), shaped as JSM's: one "Time to first response" of
            SLA_GOAL from creation, whose cycle stops at the first public comment of an agent."""
            if sb._kind(caller) == "customer":
                raise ApiError(403, ["You do not have permission to view the SLA of this request."])
            issue = sb._issue(ref)
            values = [sb._first_response_sla(issue)]
            return 200, {"size": len(values), "start": 0, "limit": 50, "isLastPage": True, "values": values}

        @route([f"{sd}/request/<ref>/participant"], ["GET"])
        def participants(caller: str, ref: str) -> tuple[int, Any]:
            users = sb._issue(ref)["fields"][PARTICIPANTS_FIELD]
            return 200, {
                "size": len(users),
                "start": 0,
                "limit": 50,
                "isLastPage": True,
                "values": [sb._sd_user(u) for u in users],
            }

        @route([f"{sd}/request/<ref>/participant"], ["POST"])
        def add_participants(caller: str, ref: str) -> tuple[int, Any]:
            issue = sb._issue(ref)
            current = [jql.user_id(u) for u in issue["fields"][PARTICIPANTS_FIELD]]
            named = request.get_json(force=True).get("accountIds" if sb.cloud else "usernames") or []
            wanted = current + [a for a in named if a not in current]
            sb._edit(issue, caller, {"fields": {PARTICIPANTS_FIELD: [sb._ref(a) for a in wanted]}})
            users = issue["fields"][PARTICIPANTS_FIELD]
            return 200, {
                "size": len(users),
                "start": 0,
                "limit": 50,
                "isLastPage": True,
                "values": [sb._sd_user(u) for u in users],
            }

        @route([f"{sd}/servicedesk/<desk_id>/requesttype"], ["GET"])
        def request_types(caller: str, desk_id: str) -> tuple[int, Any]:
            values = [
                {"id": k, "name": v, "serviceDeskId": desk_id, "description": v, "helpText": "", "groupIds": []}
                for k, v in REQUEST_TYPES.items()
            ]
            return 200, {"size": len(values), "start": 0, "limit": 50, "isLastPage": True, "values": values}

        @route([f"{sd}/customer"], ["POST"])
        def create_customer(caller: str) -> tuple[int, Any]:
            data = request.get_json(force=True)
            email = str(data.get("email") or "")
            if "@" not in email:
                raise ApiError(400, ["The email address is invalid."])
            if any(u["emailAddress"].lower() == email.lower() for u in sb.state.users.values()):
                raise ApiError(400, [f"An account already exists for this email: {email}"])
            account = f"cust-{next(sb.state.ids)}"
            name = data.get("displayName") or data.get("fullName")  # Cloud's and Data Center's word for it
            sb._user(account, str(name or email), email, "customer")
            return 201, sb._sd_user(sb.state.users[account])

        return api, control_blueprint("jira", self.control, self.emitter, self.reset)

    def unrouted(self, status: int) -> Response | None:
        """What Jira answers for a route it does not have: Cloud's gateway a problem document naming the
        method and path, Data Center's Jersey `null for uri`."""
        if not request.path.startswith("/rest/"):
            return None
        if self.cloud:
            title = "Not Found" if status == 404 else "Method Not Allowed"
            body: dict[str, Any] = {
                "type": "about:blank",
                "title": title,
                "status": status,
                "detail": f"No endpoint {request.method} {request.path}.",
                "instance": request.path,
            }
            resp = jsonify(body)
            resp.content_type = "application/problem+json;charset=UTF-8"
        else:
            resp = jsonify({"message": f"null for uri: {request.url}", "status-code": status})
        resp.status_code = status
        return resp

    def _project_json(self, key: str, version: int) -> dict[str, Any]:
        project = PROJECTS[key]
        body: dict[str, Any] = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": f"{self.base_url}/rest/api/{version}/project/{project['id']}",
            "id": project["id"],
            "key": key,
            "name": project["name"],
            "avatarUrls": {"48x48": f"{self.base_url}/secure/projectavatar?pid={project['id']}"},
            "projectTypeKey": project["projectTypeKey"],
        }
        if self.cloud:
            body |= {"simplified": False, "style": "classic", "isPrivate": False, "properties": {}}
        else:
            body["archived"] = False
        return body

    def _issue_type_json(self, type_id: str, version: int) -> dict[str, Any]:
        name, description = ISSUE_TYPES[type_id]
        body: dict[str, Any] = {
            "self": f"{self.base_url}/rest/api/{version}/issuetype/{type_id}",
            "id": type_id,
            "description": description,
            "iconUrl": f"{self.base_url}/secure/viewavatar?size=medium&avatarId={type_id}&avatarType=issuetype",
            "name": name,
            "subtask": False,
            "avatarId": int(type_id),
        }
        if self.cloud:
            body["hierarchyLevel"] = 0
        return body

    def _ref(self, account: str) -> dict[str, str]:
        """How a request body names a user on this deployment."""
        return {"accountId": account} if self.cloud else {"name": account}

    def _sd_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """A user as the service desk API shows one (Cloud: `accountId`; Data Center: `name` and `key`)."""
        ident = {"accountId": user["accountId"]} if self.cloud else {"name": user["name"], "key": user["key"]}
        return {
            **ident,
            "emailAddress": user["emailAddress"],
            "displayName": user["displayName"],
            "active": True,
            "timeZone": user["timeZone"],
            "_links": {"self": user["self"]},
        }

    def _request_json(self, issue: Mapping[str, Any]) -> dict[str, Any]:
        fields = issue["fields"]
        rt = fields[REQUEST_TYPE_FIELD] or {"requestType": {"id": None}}
        return {
            "issueId": issue["id"],
            "issueKey": issue["key"],
            "requestTypeId": rt["requestType"]["id"],
            "serviceDeskId": "1",
            "createdDate": {"iso8601": fields["created"]},
            "reporter": self._sd_user(fields["reporter"]),
            "requestFieldValues": [
                {"fieldId": "summary", "label": "Summary", "value": fields["summary"]},
                {"fieldId": "description", "label": "Description", "value": _text(fields["description"])},
            ],
            "currentStatus": {
                "status": fields["status"]["name"],
                "statusCategory": fields["status"]["statusCategory"]["key"].upper(),
            },
            "_links": {"web": f"{self.base_url}/servicedesk/customer/portal/1/{issue['key']}"},
        }

    def _jql(self, query: str) -> list[dict[str, Any]]:
        try:
            return jql.select(self.state.issues.values(), query, (name for name, _ in STATUSES.values()))
        except jql.JqlError as exc:
            raise ApiError(400, [str(exc)]) from None


def _check_text(field_name: str, value: Any, version: int) -> None:
    """Rich text is an ADF document in REST v3 and a wiki-markup string in v2 (all Data Center has):
    either the other way round is 400, as Jira answers."""
    if value is None:
        return
    if version == 3 and not (isinstance(value, Mapping) and value.get("type") == "doc"):
        raise ApiError(400, errors={field_name: ADF_REQUIRED})
    if version == 2 and not isinstance(value, str):
        raise ApiError(400, errors={field_name: "Operation value must be a string"})


def _search_args() -> Mapping[str, Any]:
    """A search's parameters: the POST body, or the query string (where `fields` may be repeated)."""
    if request.method == "POST":
        return dict(request.get_json(force=True))
    args: dict[str, Any] = request.args.to_dict()
    if request.args.getlist("fields"):
        args["fields"] = ",".join(request.args.getlist("fields"))
    return args


def _wanted(args: Mapping[str, Any], default: str) -> set[str]:
    """The `fields` a search asked for (a comma list or a JSON array), or the endpoint's default."""
    wanted = args.get("fields") or default
    if isinstance(wanted, str):
        return set(wanted.split(","))
    return {str(w) for w in wanted}


def _sd_error(body: Mapping[str, Any]) -> dict[str, Any]:
    """The service desk API words errors its own way: one `errorMessage` plus its i18n key."""
    messages = list(body.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return {
        "errorMessage": "; ".join(messages) or "The request is invalid.",
        "i18nErrorMessage": {"i18nKey": "sd.request.error", "parameters": []},
    }


def _adf(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    if isinstance(text, Mapping):
        return dict(text)
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            if line
            else {"type": "paragraph", "content": []}
            for line in str(text).split("\n")
        ],
    }


def _text(value: Any) -> str | None:
    """Plain text of a description or comment body, whether stored as text or as ADF (lists keep their
    `1.`/`-` markers and headings their `#`, as the text they were written from had them)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        if value.get("type") == "mention":
            return f"[~accountid:{(value.get('attrs') or {}).get('id')}]"
        kind = value.get("type")
        parts = [_text(c) or "" for c in value.get("content") or []]
        if kind in ("orderedList", "bulletList"):
            start = int((value.get("attrs") or {}).get("order", 1))
            marks = [f"{start + i}. " if kind == "orderedList" else "- " for i in range(len(parts))]
            return "\n".join(m + p for m, p in zip(marks, parts, strict=True))
        if kind == "heading":
            return "#" * int((value.get("attrs") or {}).get("level", 1)) + " " + "".join(parts)
        return ("\n" if kind in ("doc", "listItem") else "").join(parts)
    return str(value)
