"""The Jira sandbox as the bot and a demo user meet it: signed webhooks for every change, Jira's error answers.

Deliveries are received by a small HTTP receiver that checks them with the bot's own webhook module, so a
sandbox body the bot could not verify or parse fails here first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, request
from jira import JIRA

from bot.domain.events import Event, EventKind
from bot.domain.tickets import NewComment, Role, Status, TicketChanges, Visibility
from connectors.jira import webhook
from connectors.webhook_kit import WebhookRejected
from tests.conftest import ServedApp, wait_for
from tests.connectors.jira.conftest import Site

SECRET = "sandbox-secret"
NOW = datetime(2026, 3, 2, tzinfo=UTC)


class Receiver:
    """The bot's side of the wire, reduced to verify + parse: what each delivery means."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self.app = Flask("jira_webhook_receiver")
        self.app.add_url_rule("/webhooks/jira", "receive", self._receive, methods=["POST"])

    def _receive(self) -> tuple[str, int]:
        body = request.get_data()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            webhook.verify(headers, body, SECRET, NOW, timedelta(minutes=5))
            payload = json.loads(body)
            parsed = webhook.parse(headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=NOW)
        except WebhookRejected as exc:
            with self._lock:
                self.refused.append(exc.reason)
            return exc.reason, exc.status
        with self._lock:
            if isinstance(parsed, Event):
                self.events.append(parsed)
            else:
                self.refused.append(parsed.reason)
        return "", 202 if isinstance(parsed, Event) else 200

    def wait(self, count: int) -> list[tuple[EventKind, str, str | None, Role]]:
        wait_for(lambda: len(self.events) + len(self.refused) >= count, timeout=10)
        assert self.refused == [], self.refused
        return [(e.kind, e.ticket_id, e.actor.id, e.actor.role) for e in self.events]


@pytest.fixture
def receiver(site: Site, serve: type[ServedApp]) -> Iterator[Receiver]:
    got = Receiver()
    served = serve(got.app)
    site.sandbox.emitter.configure(f"{served.url}/webhooks/jira", SECRET)
    yield got
    site.sandbox.emitter.configure(None, None)


def test_a_customer_s_new_request_arrives_as_a_signed_ticket_created_by_the_customer(
    site: Site, receiver: Receiver
) -> None:
    key = site.raise_request("VPN down", as_user="gary@globex.test")
    assert receiver.wait(1) == [(EventKind.TICKET_CREATED, key, "cust-gary", Role.CUSTOMER)]
    assert receiver.refused == []
    payload = receiver.events[0].payload
    assert payload["issue"]["fields"]["customfield_10010"]["requestType"]["name"] == "General inquiry"


def test_the_bot_s_writes_come_back_as_echoes_it_can_recognise(site: Site, receiver: Receiver) -> None:
    desk = site.adapter()
    desk.apply(
        desk.get_ticket("SD-2"),
        TicketChanges(
            assignee_id="agent-carol",
            comment=NewComment("Carol will help you.", Visibility.PUBLIC),
            status=Status.PENDING,
        ),
    )
    assert receiver.wait(3) == [
        (EventKind.ASSIGNEE_CHANGED, "SD-2", "bot-0001", Role.AGENT),
        (EventKind.COMMENT_ADDED, "SD-2", "bot-0001", Role.AGENT),
        (EventKind.STATUS_CHANGED, "SD-2", "bot-0001", Role.AGENT),
    ]
    comment = receiver.events[1]
    assert comment.comment_public is True and comment.payload["comment"]["body"] == "Carol will help you."
    changelog = receiver.events[2].payload["changelog"]["items"]
    assert [(i["field"], i["fromString"], i["toString"]) for i in changelog] == [
        ("status", "Waiting for support", "Waiting for customer")
    ]


def test_an_internal_note_is_delivered_as_not_public(site: Site, receiver: Receiver) -> None:
    desk = site.adapter()
    desk.apply(desk.get_ticket("SD-1"), TicketChanges(comment=NewComment("VIP", Visibility.INTERNAL)))
    receiver.wait(1)
    assert receiver.events[0].comment_public is False


def test_a_customer_reply_moves_the_request_back_to_support(site: Site, receiver: Receiver) -> None:
    desk = site.adapter()
    desk.apply(desk.get_ticket("SD-1"), TicketChanges(status=Status.PENDING))
    reply = site.call("POST", "/rest/servicedeskapi/request/SD-1/comment", "cathy@acme.test", json={"body": "Done."})
    assert reply.status_code == 201
    assert receiver.wait(2)[1] == (EventKind.COMMENT_ADDED, "SD-1", "cust-cathy", Role.CUSTOMER)
    assert desk.get_ticket("SD-1").status is Status.OPEN


def test_customers_cannot_write_internal_notes(site: Site) -> None:
    resp = site.call(
        "POST", "/rest/servicedeskapi/request/SD-1/comment", "cathy@acme.test", json={"body": "x", "public": False}
    )
    assert resp.status_code == 400
    assert resp.json()["errorMessage"] == "Customers can set comments to public visibility only."


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [
        (
            "GET",
            "/rest/api/3/issue/SD-999",
            None,
            404,
            {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}},
        ),
        (
            "POST",
            "/rest/api/3/issue",
            {"fields": {"project": {"key": "DEV"}, "issuetype": {"name": "Bug"}}},
            400,
            {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}},
        ),
        (
            "POST",
            "/rest/api/3/issue",
            {"fields": {"project": {"key": "NOPE"}, "summary": "x"}},
            400,
            {"errorMessages": [], "errors": {"project": "Specify a valid project ID or key"}},
        ),
        (
            "POST",
            "/rest/api/3/issue/SD-1/transitions",
            {"transition": {"id": "999"}},
            400,
            {"errorMessages": ["Transition id '999' is not valid for this issue."], "errors": {}},
        ),
        (
            "PUT",
            "/rest/api/3/issue/SD-1",
            {"fields": {"duedate": "2026-01-01"}},
            400,
            {
                "errorMessages": [],
                "errors": {
                    "duedate": "Field 'duedate' cannot be set. It is not on the appropriate screen, or unknown."
                },
            },
        ),
    ],
    ids=["unknown-issue", "no-summary", "unknown-project", "unknown-transition", "field-not-on-screen"],
)
def test_jira_errors_come_in_jira_s_shape(
    site: Site, method: str, path: str, body: Any, status: int, answer: dict[str, Any]
) -> None:
    resp = site.call(method, path, json=body)
    assert (resp.status_code, resp.json()) == (status, answer)


def test_unknown_callers_are_401(site: Site) -> None:
    resp = site.call("GET", "/rest/api/3/myself", "mallory@evil.test")
    assert resp.status_code == 401
    assert resp.json()["errorMessages"] == ["Client must be authenticated to access this resource."]


def test_the_real_jira_client_connects_and_reads_the_demo_desk(site: Site) -> None:
    """`JIRA()` asks serverInfo on construction and speaks REST v2: the sandbox serves both."""
    client = JIRA(server=site.url, basic_auth=("alice@example.com", "api-token"), max_retries=0)
    assert client.server_info()["deploymentType"] == "Cloud"
    assert client.myself()["accountId"] == "agent-alice"
    issue = client.issue("SD-1")
    assert (issue.key, issue.fields.summary, issue.fields.reporter.accountId) == ("SD-1", "Invoice copy", "cust-cathy")
    assert [t["name"] for t in client.transitions(issue)][:2] == ["Respond to customer", "Pending"]


def test_projects_issue_types_and_group_pages_match_atlassians_spec(site: Site) -> None:
    """The v3 routes a client lists projects and issue types with answer what the Cloud spec says (the
    fixture fails the test on any violation), and group members come in pages of at most 50."""
    before = site.recorder.checked
    projects = site.call("GET", "/rest/api/3/project").json()
    assert [p["key"] for p in projects] == ["SD", "DEV", "FEED"]  # FEED: feedback as Jira issues
    dev = site.call("GET", "/rest/api/3/project/10001").json()
    assert dev["key"] == "DEV" and [t["name"] for t in dev["issueTypes"]] == ["Bug", "Task"]
    page = site.call("GET", "/rest/api/3/project/search", params={"maxResults": 1}).json()
    assert page["total"] == 3 and page["isLast"] is False and [p["key"] for p in page["values"]] == ["SD"]
    assert {t["name"] for t in site.call("GET", "/rest/api/3/issuetype").json()} == {"Service Request", "Bug", "Task"}
    assert site.call("GET", "/rest/api/3/issuetype/10200").json()["name"] == "Bug"
    assert site.call("GET", "/rest/api/3/project/NOPE").status_code == 404
    for n in range(60):
        site.sandbox._user(f"agent-{n}", f"Agent {n}", f"agent{n}@example.com", "atlassian")
        site.sandbox.state.groups["support"].append(f"agent-{n}")
    first = site.call("GET", "/rest/api/3/group/member", params={"groupname": "support"}).json()
    rest = site.call("GET", "/rest/api/3/group/member", params={"groupname": "support", "startAt": 50}).json()
    assert (len(first["values"]), first["isLast"], first["total"]) == (50, False, 63)
    assert (len(rest["values"]), rest["isLast"]) == (13, True)
    assert site.recorder.checked - before == 8
