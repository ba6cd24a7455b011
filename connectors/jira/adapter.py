"""The `Helpdesk` protocol over Jira Service Management: the `jira` client's session, platform and JSM APIs.

The platform API (`/rest/api/3`) reads a request with its comments in one `GET` and edits it in one `PUT`: fields
(assignee, reporter, request type, priority, the audit note, the follow-up field), labels, request participants and
the comment (customer-visible, or internal through the `sd.public.comment` property); it moves tickets through
transitions (with a resolution) and creates and links dev bugs with an ADF @-mention. The service desk API
(`/rest/servicedeskapi`) pages the comments of a long request, reads SLAs and creates customers. The `jira` client
is built with retries off and shares its session with `JsonApi`, so a 429 becomes `RateLimited(Retry-After)` at
once.

Jira has no update guard like Zendesk's `safe_update`: a write never raises `Conflict` for a stale
snapshot (the per-ticket lock and the stored write plan keep the bot from racing itself).

Data Center (`deployment: datacenter`) has REST v2 only and names users instead of giving them account ids,
so there the adapter reads and writes users by `name` (`{"name": ...}`, `usernames` for participants,
`user?username=`, `user/search?username=`), tells customers from agents by their application roles, searches
with `/rest/api/2/search` and `startAt` pages (the issue count is that search's `total`), writes descriptions
and comments as wiki markup and mentions people as `[~username]`. Cloud uses `/search/jql` with
`nextPageToken`, `/search/approximate-count`, and ADF (mention nodes) in v3.
Group members are read in pages of 50 on both.

Options: `JiraOptions` (`connectors/jira/options.py`, the policy's `desks.jira`), received as given.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from jira import JIRA

from bot.domain.errors import HelpdeskError, InvalidRequest
from bot.domain.tickets import (
    AgentLoad,
    BulkResult,
    Comment,
    LinkedIssue,
    NewComment,
    Person,
    Role,
    SearchPage,
    SlaMetric,
    Status,
    StatusChange,
    Ticket,
    TicketChanges,
    TicketQuery,
    Visibility,
)
from connectors.base import DeskConfig, TtlCache, linked_issue_label
from connectors.http import JsonApi
from connectors.jira import adf
from connectors.jira.options import JiraOptions

STATUS_MAP = {
    "waiting for support": Status.OPEN,
    "in progress": Status.OPEN,
    "escalated": Status.OPEN,
    "waiting for customer": Status.PENDING,
    "pending": Status.ON_HOLD,
    "resolved": Status.SOLVED,
    "done": Status.SOLVED,
    "closed": Status.CLOSED,
    "canceled": Status.CLOSED,
}
CATEGORY = {"new": Status.NEW, "indeterminate": Status.OPEN, "done": Status.SOLVED}
CHANNEL_PROPERTY = "request.channel.type"
"""The issue entity property where JSM keeps how a request came in (portal, email, api, jira...): the
service desk API's request has no channel field, and JQL's `request-channel-type` reads this property."""
STATES_KEPT = 10_000
"""Issues whose workflow status the adapter remembers (to pick a transition without reading them again)."""
INTERNAL_PROPERTY = "sd.public.comment"
"""The comment property JSM reads as "internal note" on a comment added through the platform API."""
FIELDS = "summary,description,status,reporter,assignee,priority,labels,created,updated,project,issuetype,resolution"


def build(config: DeskConfig) -> JiraDesk:
    return JiraDesk(config)


class JiraDesk:
    name = "jira"
    holds_groups = False
    """Jira issues have no assignment group: a group only names the candidate agents."""
    guards_writes = False
    """No update guard like Zendesk's `safe_update` (see the module docstring)."""

    def __init__(self, config: DeskConfig) -> None:
        options = JiraOptions.of(config.options)
        self.client = JIRA(
            server=config.url,
            basic_auth=(config.email, config.token),
            max_retries=0,
            timeout=config.timeout,
            get_server_info=False,
        )
        self.api = JsonApi(
            config.url, (config.email, config.token), config.timeout, session=self.client._session, gate=config.gate
        )
        self.options = options
        # Custom field ids the site did not give are "" (read as absent, never written).
        self.request_type_field = options.request_type_field or ""
        self.participants_field = options.participants_field or ""
        self.organizations_field = options.organizations_field or ""
        self.audit_field = options.audit_field or ""
        self.followup_field = options.followup_field or ""
        self.link_type = options.link_type
        self.bug_type = options.bug_issue_type
        self.cloud = options.deployment == "cloud"
        self.rest = "/rest/api/3" if self.cloud else "/rest/api/2"
        self.default_resolution = options.default_resolution
        self.status_map = {**STATUS_MAP, **{k.lower(): Status(v) for k, v in (options.status_map or {}).items()}}
        self.transitions = {Status(k): str(v).lower() for k, v in (options.transitions or {}).items()}
        self._me: Person | None = None
        self._account_types: dict[str, str] = {}
        self._project_statuses: dict[str, list[Mapping[str, Any]]] = {}
        self._groups: TtlCache[str, list[Mapping[str, Any]]] = TtlCache(options.group_cache_seconds)
        self._workflow: TtlCache[tuple[str, str, str], list[Mapping[str, Any]]] = TtlCache(
            options.workflow_cache_seconds
        )
        self._states: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        self.atomic_writes = bool(self.participants_field)
        """One edit carries fields, labels, participants and the comment together, all or nothing (participants
        need the "Request participants" field; without it they are a call of their own)."""

    @property
    def project(self) -> str:
        return self._required("service_project", self.options.service_project)

    @property
    def service_desk(self) -> str:
        return self._required("service_desk_id", self.options.service_desk_id)

    @property
    def dev_project(self) -> str:
        return self._required("dev_project", self.options.dev_project)

    @staticmethod
    def _required(key: str, value: str | None) -> str:
        """A site-specific id the policy must give: a clear error instead of another site's value."""
        if not value:
            raise InvalidRequest(f"desks.jira.{key} is not set in the policy file: the bot needs it here")
        return value

    # --- reads -------------------------------------------------------------------------------------

    def me(self) -> Person:
        if self._me is None:
            data = self.api.call("GET", f"{self.rest}/myself")
            self._me = Person(_uid(data), str(data.get("displayName") or ""), data.get("emailAddress"), Role.BOT)
        return self._me

    def _person(self, user: Mapping[str, Any] | None) -> Person:
        if not user:
            return Person("", "")
        account = _uid(user)
        if account == self.me().id:
            role = Role.BOT
        else:
            kind = user.get("accountType") or self._account_type(account)
            role = Role.CUSTOMER if kind == "customer" else Role.AGENT
        return Person(
            account,
            str(user.get("displayName") or ""),
            user.get("emailAddress"),
            role,
            available=bool(user.get("active", True)),
        )

    def _fields(self) -> str:
        return ",".join(
            filter(
                None,
                (
                    FIELDS,
                    self.request_type_field,
                    self.participants_field,
                    self.organizations_field,
                    self.followup_field,
                ),
            )
        )

    def _account_type(self, account: str) -> str:
        """`atlassian` or `customer` for a user the service desk API named without saying which (its user
        objects carry no `accountType`): asked once per person, then remembered. Data Center has no account
        types: a JSM customer is a user without any application role (`expand=applicationRoles`; its
        `size` counts them, `items` may be empty)."""
        if account and account not in self._account_types:
            if self.cloud:
                user = self.api.call("GET", f"{self.rest}/user", params={"accountId": account}) or {}
                kind = str(user.get("accountType") or "atlassian")
            else:
                params = {"username": account, "expand": "applicationRoles"}
                user = self.api.call("GET", f"{self.rest}/user", params=params) or {}
                kind = "atlassian" if int((user.get("applicationRoles") or {}).get("size") or 0) else "customer"
            self._account_types[account] = kind
        return self._account_types.get(account, "atlassian")

    def _user_ref(self, account: str) -> dict[str, str]:
        """A user in a request body: Cloud by `accountId`, Data Center by `name`."""
        return {"accountId": account} if self.cloud else {"name": account}

    def _learn_account_types(self, fields: Mapping[str, Any]) -> None:
        """Reporter, assignee and participants come with their account type: no lookup needed for them."""
        people = [fields.get("reporter"), fields.get("assignee"), *(fields.get(self.participants_field) or [])]
        for user in people:
            if isinstance(user, Mapping) and _uid(user) and user.get("accountType"):
                self._account_types[_uid(user)] = str(user["accountType"])

    def _remember_state(self, key: str, fields: Mapping[str, Any]) -> None:
        """Where in its workflow an issue was last seen (project, issue type, status): what its transitions
        depend on. Kept for the most recent `STATES_KEPT` issues."""
        parts = ((fields.get("project") or {}).get("key"), (fields.get("issuetype") or {}).get("id"))
        status = (fields.get("status") or {}).get("id")
        if all(parts) and status:
            self._states[key] = (str(parts[0]), str(parts[1]), str(status))
            self._states.move_to_end(key)
            while len(self._states) > STATES_KEPT:
                self._states.popitem(last=False)

    def get_ticket(self, ticket_id: str) -> Ticket:
        """One call on Cloud: the issue with its comments, whose `jsdPublic` says which the customer sees; the
        service desk API pages the rest only when the issue holds more comments than it returned. Data Center's
        comments carry no such flag, so there the service desk API lists them (one more call per 100). An issue
        of another project (a dev bug) is no request: its comments are all internal to the customer."""
        fields = self._fields() + (",comment" if self.cloud else "")
        issue = self.api.call(
            "GET",
            f"{self.rest}/issue/{ticket_id}",
            params={"fields": fields, "properties": CHANNEL_PROPERTY, "expand": "changelog"},
        )
        self._learn_account_types(issue["fields"])
        embedded = issue["fields"].get("comment") or {}
        values = embedded.get("comments") or []
        complete = self.cloud and len(values) >= int(embedded.get("total") or 0)
        if (issue["fields"].get("project") or {}).get("key") != self.options.service_project:
            comments = self._comment_list(values, public=False) if complete else self._platform_comments(issue["key"])
            return self._ticket(issue, comments)
        if complete:
            return self._ticket(issue, self._comment_list(values, public=True))
        return self._ticket(issue, self._request_comments(str(issue["key"])))

    def _comment_list(self, values: list[Mapping[str, Any]], *, public: bool) -> tuple[Comment, ...]:
        """Comments as the platform API gives them (ADF bodies). On a request, `jsdPublic` says who sees each
        (absent: public, Jira's default); a dev issue's comments are never the customer's to see."""
        return tuple(
            Comment(
                id=str(c["id"]),
                author=self._person(c.get("author")),
                body=adf.plain(c.get("body")) or "",
                visibility=Visibility.PUBLIC if public and c.get("jsdPublic", True) else Visibility.INTERNAL,
                created_at=_time(c.get("created")),
            )
            for c in values
        )

    def _request_comments(self, key: str) -> tuple[Comment, ...]:
        """`/servicedeskapi/request/{key}/comment`, 100 a page: each comment with its `public` flag."""
        comments: list[Comment] = []
        start = 0
        while True:
            page = self.api.call(
                "GET", f"/rest/servicedeskapi/request/{key}/comment", params={"start": start, "limit": 100}
            )
            values = page.get("values") or []
            comments += [
                Comment(
                    id=str(c["id"]),
                    author=self._person(c.get("author")),
                    body=str(c.get("body") or ""),
                    visibility=Visibility.PUBLIC if c.get("public", True) else Visibility.INTERNAL,
                    created_at=_time((c.get("created") or {}).get("iso8601")),
                )
                for c in values
            ]
            if page.get("isLastPage", True) or not values:
                return tuple(comments)
            start += len(values)

    def _platform_comments(self, key: str) -> tuple[Comment, ...]:
        """`GET /issue/{key}/comment`, paged by `startAt`."""
        comments: list[Comment] = []
        while True:
            page = self.api.call("GET", f"{self.rest}/issue/{key}/comment", params={"startAt": len(comments)})
            values = page.get("comments") or []
            comments += self._comment_list(values, public=False)
            if not values or len(comments) >= int(page.get("total") or 0):
                return tuple(comments)

    def _ticket(self, issue: Mapping[str, Any], comments: tuple[Comment, ...]) -> Ticket:
        f = issue["fields"]
        self._remember_state(str(issue["key"]), f)
        normalized = self._normalize(f.get("status") or {}) or Status.OPEN
        request_type = (f.get(self.request_type_field) or {}).get("requestType") or {}
        orgs = f.get(self.organizations_field) or []
        return Ticket(
            desk=self.name,
            id=str(issue["key"]),
            subject=str(f.get("summary") or ""),
            description=adf.plain(f.get("description")) or "",
            status=normalized,
            requester=self._person(f.get("reporter")),
            created_at=_time(f.get("created")),
            updated_at=_time(f.get("updated")),
            version=str(f.get("updated") or ""),
            priority=(f.get("priority") or {}).get("name"),
            assignee_id=_uid(f.get("assignee") or {}) or None,
            request_type=request_type.get("id"),
            organization_id=str(orgs[0]["id"]) if orgs else None,
            organization_name=str(orgs[0].get("name") or "") or None if orgs else None,
            channel=_channel(issue.get("properties") or {}),
            tags=tuple(f.get("labels") or ()),
            participant_ids=tuple(_uid(u) for u in f.get(self.participants_field) or []),
            custom_fields={k: v for k, v in f.items() if k.startswith("customfield_")},
            comments=comments,
            project=(f.get("project") or {}).get("key"),
            resolution=(f.get("resolution") or {}).get("name"),
            url=f"{self.api.base_url}/browse/{issue['key']}",
            status_changes=self._status_changes(issue.get("changelog") or {}),
            followup_state=(adf.plain(f.get(self.followup_field)) or None) if self.followup_field else None,
        )

    def _status_changes(self, changelog: Mapping[str, Any]) -> tuple[StatusChange, ...]:
        """The status moves of the issue's changelog (`expand=changelog` on the same read: no extra call; Cloud
        returns the latest 100 entries, enough for when the request last started waiting), oldest first."""
        out: list[StatusChange] = []
        for history in changelog.get("histories") or []:
            for item in history.get("items") or []:
                if item.get("field") != "status":
                    continue
                to = self._normalize({"name": item.get("toString")})
                if to is None:
                    continue
                before = self._normalize({"name": item.get("fromString")})
                by = self._person(history.get("author")).role if history.get("author") else None
                out.append(StatusChange(_time(history.get("created")), to, before, by))
        return tuple(sorted(out, key=lambda c: c.at))

    def find_person(self, email: str, *, create: bool = False, name: str | None = None) -> Person | None:
        params = {"query": email} if self.cloud else {"username": email}
        users = self.api.call("GET", f"{self.rest}/user/search", params=params) or []
        exact = [u for u in users if (u.get("emailAddress") or "").lower() == email.lower()]
        if exact:
            return self._person(exact[0])
        if not create:
            return None
        body = {"email": email, ("displayName" if self.cloud else "fullName"): name or email}
        made = self.api.call("POST", "/rest/servicedeskapi/customer", json=body)
        self._account_types[_uid(made)] = "customer"
        return self._person({**made, "accountType": "customer"})

    def group_agents(self, group_id: str, *, with_load: bool = True) -> list[AgentLoad]:
        """The group's active members (cached for `group_cache_seconds`), with open tickets counted."""
        users = self._groups.get(group_id, lambda: self._group_members(group_id))
        agents = [self._person(u) for u in users if u.get("active", True)]
        return [AgentLoad(a, self._open_count(a.id) if with_load else 0) for a in agents]

    def _group_members(self, group_id: str) -> list[Mapping[str, Any]]:
        """`/group/member` in pages of (at most) 50 until `isLast`: a large support group is read in full."""
        users: list[Mapping[str, Any]] = []
        while True:
            params = {"groupname": group_id, "startAt": len(users), "maxResults": 50}
            page = self.api.call("GET", f"{self.rest}/group/member", params=params)
            values = page.get("values") or []
            users += values
            if page.get("isLast", True) or not values:
                return users

    def _open_count(self, account_id: str) -> int:
        """Cloud: `/search/approximate-count`; Data Center: the `total` of a `/search` asking for no issue."""
        jql = f'project = {self.project} AND assignee = "{account_id}" AND statusCategory != Done'
        if self.cloud:
            return int(self.api.call("POST", "/rest/api/3/search/approximate-count", json={"jql": jql})["count"])
        page = self.api.call("POST", "/rest/api/2/search", json={"jql": jql, "maxResults": 0, "fields": ["id"]})
        return int(page["total"])

    # --- writes ------------------------------------------------------------------------------------

    def apply(self, ticket: Ticket, changes: TicketChanges) -> str | None:
        """One `PUT` edit carries the fields, labels, participants (through the "Request participants" field), the
        audit note (`audit_field`), the follow-up step (`followup_field`) and the comment (public, or internal
        through the `sd.public.comment` property, as the service desk API marks it); a transition follows when the
        status changes (last, so a resolving write posts its explanation before the ticket leaves the queue).
        Without a participants field, participants are added through the service desk API, one more call."""
        key = ticket.id
        fields: dict[str, Any] = {}
        if changes.assignee_id is not None:
            fields["assignee"] = self._user_ref(changes.assignee_id)
        if changes.requester_id is not None:
            fields["reporter"] = self._user_ref(changes.requester_id)
        if changes.request_type is not None and self.request_type_field:
            fields[self.request_type_field] = changes.request_type
        if changes.priority is not None:
            fields["priority"] = {"name": changes.priority.capitalize()}
        fields.update(changes.custom_fields)
        if changes.audit_note is not None and self.audit_field:
            fields[self.audit_field] = adf.from_text(changes.audit_note) if self.cloud else changes.audit_note
        if changes.followup_state is not None and self.followup_field:
            state = changes.followup_state  # read back and compared: written line by line, nothing reformatted
            fields[self.followup_field] = adf.from_lines(state) if self.cloud else state
        update: dict[str, list[dict[str, Any]]] = {}
        labels = [{"add": t} for t in changes.add_tags] + [{"remove": t} for t in changes.remove_tags]
        if labels:
            update["labels"] = labels
        participants = list(changes.add_participant_ids)
        if participants and self.participants_field:
            update[self.participants_field] = [{"add": self._user_ref(p)} for p in participants]
            participants = []
        if changes.comment is not None:
            update["comment"] = [{"add": self._comment_body(changes.comment)}]
        if fields or update:
            body: dict[str, Any] = {"fields": fields}
            if update:
                body["update"] = update
            self.api.call("PUT", f"{self.rest}/issue/{key}", json=body)
        if participants:
            self.api.call(
                "POST",
                f"/rest/servicedeskapi/request/{key}/participant",
                json={("accountIds" if self.cloud else "usernames"): participants},
            )
        if changes.status is not None:
            keep = changes.resolution is None and ticket.status is Status.SOLVED  # closing a resolved request
            self._transition(key, changes.status, changes.resolution, keep_resolution=keep)
        return None  # no version to guard a next write with

    def _comment_body(self, comment: NewComment) -> dict[str, Any]:
        """A comment in an edit: ADF on Cloud (mention nodes notify), wiki markup on Data Center; an internal
        note carries the `sd.public.comment` property JSM reads as "internal"."""
        body: dict[str, Any] = {
            "body": _adf_comment(comment) if self.cloud else _wiki_mentions(comment),
        }
        if comment.visibility is not Visibility.PUBLIC:
            body["properties"] = [{"key": INTERNAL_PROPERTY, "value": {"internal": True}}]
        return body

    def _transition(self, key: str, status: Status, resolution: str | None, *, keep_resolution: bool = False) -> None:
        """The transition leading to `status`; into a done status it sets the resolution (`default_resolution`
        when none is given), except with `keep_resolution` (Resolved → Closed keeps "User not responded").

        The transitions out of a workflow status are the same for every issue of a type in a project, so they are
        read once per (project, issue type, status) and kept for `workflow_cache_seconds`; a transition the desk
        refuses (the issue moved on meanwhile, the workflow changed) drops what was kept and reads them again."""
        state = self._states.get(key)
        reads: list[str] = []

        def read() -> list[Mapping[str, Any]]:
            reads.append(key)
            return list(self.api.call("GET", f"{self.rest}/issue/{key}/transitions")["transitions"])

        if state is None:
            self._take(key, read(), status, resolution, keep_resolution)
            return
        try:
            self._take(key, self._workflow.get(state, read), status, resolution, keep_resolution)
        except InvalidRequest:
            self._workflow.drop(state)
            if reads:  # refused on transitions read just now: nothing was stale
                raise
            self._take(key, read(), status, resolution, keep_resolution)

    def _take(
        self,
        key: str,
        options: list[Mapping[str, Any]],
        status: Status,
        resolution: str | None,
        keep_resolution: bool,
    ) -> None:
        named = self.transitions.get(status)
        if named:
            options = [o for o in options if str(o.get("name", "")).lower() == named] or options
        for option in options:
            if self._normalize(option.get("to") or {}) is status:
                body: dict[str, Any] = {"transition": {"id": option["id"]}}
                if status in (Status.SOLVED, Status.CLOSED) and not keep_resolution:
                    body["fields"] = {"resolution": {"name": resolution or self.default_resolution}}
                self.api.call("POST", f"{self.rest}/issue/{key}/transitions", json=body)
                self._states.pop(key, None)  # in another status now: the next read says which
                return
        names = ", ".join(f"{o['name']} → {(o.get('to') or {}).get('name')}" for o in options)
        raise InvalidRequest(f"{key}: no transition leads to {status.value} (available: {names or 'none'})")

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
        """`POST /issue`, then `POST /issueLink` (a ticket of this site) or `POST /issue/{key}/remotelink`
        (a ticket on another desk), then the comment. The label from `linked_issue_label` goes in the
        create call itself, so `find_linked_issue` finds the issue even if the link never got made."""
        fields = {
            "project": {"key": project or self.dev_project},
            "summary": summary,
            "description": adf.from_text(description) if self.cloud else description,
            "issuetype": {"name": issue_type or self.bug_type},
            "labels": [linked_issue_label(ticket)],
        }
        made = self.api.call("POST", f"{self.rest}/issue", json={"fields": fields})
        key = str(made["key"])
        if ticket.desk == self.name:
            link = {"type": {"name": self.link_type}, "inwardIssue": {"key": ticket.id}, "outwardIssue": {"key": key}}
            self.api.call("POST", f"{self.rest}/issueLink", json=link)
        elif ticket.url:
            remote = {"object": {"url": ticket.url, "title": f"{ticket.desk.title()} ticket {ticket.id}"}}
            self.api.call("POST", f"{self.rest}/issue/{key}/remotelink", json=remote)
        if comment is not None:
            body: Any = _adf_comment(comment) if self.cloud else _wiki_mentions(comment)
            self.api.call("POST", f"{self.rest}/issue/{key}/comment", json={"body": body})
        return LinkedIssue(key=key, id=str(made.get("id")), url=f"{self.api.base_url}/browse/{key}")

    def find_linked_issue(self, ticket: Ticket, *, project: str) -> LinkedIssue | None:
        """JQL search for the issue carrying the ticket's label in `project` (Cloud `/search/jql`, Data
        Center `/search`)."""
        jql = f'project = {project or self.dev_project} AND labels = "{linked_issue_label(ticket)}"'
        path = "/rest/api/3/search/jql" if self.cloud else "/rest/api/2/search"
        page = self.api.call("POST", path, json={"jql": jql, "maxResults": 1, "fields": ["id"]})
        issues = page.get("issues") or []
        if not issues:
            return None
        key = str(issues[0]["key"])
        return LinkedIssue(key=key, id=str(issues[0].get("id")), url=f"{self.api.base_url}/browse/{key}")

    def sla(self, ticket: Ticket) -> list[SlaMetric]:
        """The request's SLA clocks (`/rest/servicedeskapi/request/{key}/sla`): the running cycle of each,
        else its last completed one."""
        page = self.api.call("GET", f"/rest/servicedeskapi/request/{ticket.id}/sla", params={"limit": 50})
        metrics = []
        for value in page.get("values") or []:
            ongoing = value.get("ongoingCycle")
            cycle = ongoing or ((value.get("completedCycles") or [None])[-1]) or {}
            breach = (cycle.get("breachTime") or {}).get("iso8601")
            metrics.append(
                SlaMetric(
                    name=str(value.get("name") or ""),
                    breach_at=_time(breach) if breach else None,
                    breached=bool(cycle.get("breached")),
                    running=bool(ongoing) and not ongoing.get("paused"),
                )
            )
        return metrics

    def search(self, query: TicketQuery, cursor: str | None = None) -> SearchPage:
        """Cloud: enhanced JQL search (`/rest/api/3/search/jql`), `nextPageToken` pages, no `total`.
        Data Center: `/rest/api/2/search`, the cursor is the next `startAt`. Results carry the follow-up field,
        so a ticket's last step is known without reading it."""
        body: dict[str, Any] = {
            "jql": self._jql(query) + " ORDER BY key ASC",
            "maxResults": 100,
            "fields": [
                f
                for f in (*FIELDS.split(","), self.request_type_field, self.participants_field, self.followup_field)
                if f
            ],
        }
        if not self.cloud:
            body["startAt"] = int(cursor or 0)
            page = self.api.call("POST", "/rest/api/2/search", json=body)
            issues = page.get("issues") or []
            after = body["startAt"] + len(issues)
            tickets = tuple(self._ticket(issue, ()) for issue in issues)
            return SearchPage(tickets, str(after) if issues and after < int(page.get("total") or 0) else None)
        if cursor:
            body["nextPageToken"] = cursor
        page = self.api.call("POST", "/rest/api/3/search/jql", json=body)
        tickets = tuple(self._ticket(issue, ()) for issue in page.get("issues") or [])
        return SearchPage(tickets, None if page.get("isLast", True) else page.get("nextPageToken"))

    def count(self, query: TicketQuery) -> int:
        """How many issues match `query`: Cloud `/search/approximate-count`, Data Center the `total` of a
        `/search` asking for no issue."""
        jql = self._jql(query)
        if self.cloud:
            return int(self.api.call("POST", "/rest/api/3/search/approximate-count", json={"jql": jql})["count"])
        page = self.api.call("POST", "/rest/api/2/search", json={"jql": jql, "maxResults": 0, "fields": ["id"]})
        return int(page["total"])

    def _jql(self, query: TicketQuery) -> str:
        """The JQL of `query`, bounded by its project (Cloud refuses unbounded searches). An organization is
        searched by name (`Organizations = "Acme"`, as JQL takes it); times are written in UTC."""
        clauses = [f"project = {query.project or self.project}"]
        names = self._status_names(query.project or self.project, query.statuses) if query.statuses else []
        if names:
            clauses.append("status in (" + ", ".join(f'"{n}"' for n in names) + ")")
        if query.updated_before is not None:
            clauses.append(f'updated < "{_jql_time(query.updated_before)}"')
        if query.created_after is not None:
            clauses.append(f'created >= "{_jql_time(query.created_after)}"')
        if query.created_before is not None:  # JQL times are minutes: up to the end of that minute
            clauses.append(f'created < "{_jql_time(query.created_before + timedelta(minutes=1))}"')
        if query.exclude_id is not None:
            clauses.append(f"key != {query.exclude_id}")
        if query.requester_id is not None:
            clauses.append(f'reporter = "{_quoted(query.requester_id)}"')
        if query.organization_name is not None:
            clauses.append(f'Organizations = "{_quoted(query.organization_name)}"')
        return " AND ".join(clauses)

    def _normalize(self, status: Mapping[str, Any]) -> Status | None:
        """A workflow status on the common scale: by name (`status_map`), else by its category."""
        by_name = self.status_map.get(str(status.get("name", "")).lower())
        return by_name or CATEGORY.get(str((status.get("statusCategory") or {}).get("key", "")))

    def _status_names(self, project: str, statuses: tuple[Status, ...]) -> list[str]:
        """The project's own status names that mean `statuses`: JQL rejects (400) a status name the site
        does not have, so names come from the project's workflows (read once), never from the map alone.
        NEW also takes statuses of the "new" category, as Jira has no separate untouched state."""
        if project not in self._project_statuses:
            types = self.api.call("GET", f"{self.rest}/project/{project}/statuses") or []
            self._project_statuses[project] = [s for t in types for s in t.get("statuses") or []]
        names = {
            str(s["name"])
            for s in self._project_statuses[project]
            if self._normalize(s) in statuses
            or (Status.NEW in statuses and (s.get("statusCategory") or {}).get("key") == "new")
        }
        return sorted(names)

    def bulk_apply(self, changes: Mapping[str, TicketChanges], versions: Mapping[str, str] | None = None) -> BulkResult:
        """Jira has no endpoint taking different changes per issue: each ticket is one `apply`, i.e. one
        batch of calls, and `jobs` counts those batches (nothing runs asynchronously on the Jira side).
        Jira writes carry no version guard, so `versions` is not used.

        A rate limit or transient fault stops the run and is raised (the caller retries the rest later,
        after `Retry-After`); permanent errors are recorded per ticket and the run goes on.
        """
        errors: dict[str, str | None] = {}
        for key, change in changes.items():
            stub = Ticket(self.name, key, "", "", Status.OPEN, Person("", ""), _time(None), _time(None), "")
            try:
                self.apply(stub, change)
                errors[key] = None
            except HelpdeskError as exc:
                if not exc.permanent:
                    raise
                errors[key] = str(exc)
        return BulkResult(errors, len(errors))


def _channel(properties: Mapping[str, Any]) -> str:
    """The request's channel in lower case (`email`, `portal`, `api`, ...), read from the entity property
    the issue was fetched with; `portal` when the property is absent (an issue that was never a request).

    Data Center stores `{"value": "email"}`; a bare string is accepted too, as the Cloud shape is not
    documented."""
    value = properties.get(CHANNEL_PROPERTY)
    if isinstance(value, Mapping):
        value = value.get("value")
    return str(value).strip().lower() if value else "portal"


def _jql_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y/%m/%d %H:%M")


def _quoted(value: str) -> str:
    """A value inside a JQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _adf_comment(comment: NewComment) -> dict[str, Any]:
    """Cloud's v3 API takes ADF: a mention node per person (that is what notifies them), then the text."""
    return adf.from_text(comment.body, [adf.mention(p.id, p.name) for p in comment.mentions])


def _uid(user: Mapping[str, Any]) -> str:
    """A user's id: Cloud's `accountId`, Data Center's `name`."""
    return str(user.get("accountId") or user.get("name") or "")


def _wiki_mentions(comment: NewComment) -> str:
    """Data Center's wiki markup: `[~username]` notifies the person (Data Center has no account ids)."""
    if not comment.mentions:
        return comment.body
    return " ".join(f"[~{p.id}]" for p in comment.mentions) + " " + comment.body


def _time(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text)
