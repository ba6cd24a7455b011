"""The real zenpy and jira clients, unchanged, against `helpdesk-bot sandbox` over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from jira import JIRA
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket

from connectors.sandboxes import build
from tests.conftest import ServedApp


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServedApp]:
    app, _ = build(seed=True)
    served = ServedApp(app)
    yield served
    served.close()


def test_zenpy(sandbox: ServedApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # zenpy's own switches for a Zendesk that is not at https://<subdomain>.zendesk.com
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", urlsplit(sandbox.url).netloc)
    zenpy = Zenpy(subdomain="sandbox", email="alice@example.com", token="x")
    assert zenpy.users.me().email == "alice@example.com"
    created = zenpy.tickets.create(Ticket(subject="From zenpy", comment=Comment(body="Hello from zenpy")))
    ticket = zenpy.tickets(id=created.ticket.id)
    assert ticket.subject == "From zenpy" and ticket.status == "new"
    ticket.status = "pending"
    ticket.comment = Comment(body="Waiting on you", public=True)
    zenpy.tickets.update(ticket)
    assert zenpy.tickets(id=ticket.id).status == "pending"
    assert [c.body for c in zenpy.tickets.comments(ticket=ticket.id)] == ["Hello from zenpy", "Waiting on you"]
    assert {m.user_id for m in zenpy.groups.memberships(group=201)} == {101, 102, 103}


def test_jira(sandbox: ServedApp) -> None:
    jira = JIRA(server=sandbox.url, basic_auth=("alice@example.com", "x"))
    assert jira.myself()["accountId"] == "agent-alice"
    issue = jira.issue("SD-1")
    assert issue.fields.summary == "Invoice copy"
    jira.add_comment(issue, "Looking into it")
    assert [c.body for c in jira.comments(issue)] == ["Looking into it"]
    resolve = next(t for t in jira.transitions(issue) if t["name"] == "Resolve this issue")
    jira.transition_issue(issue, resolve["id"], fields={"resolution": {"name": "Done"}})
    assert jira.issue("SD-1").fields.status.name == "Resolved"
    found = jira.search_issues("project = SD", maxResults=False)
    assert {i.key for i in found} >= {"SD-1", "SD-2"}
