"""The real zenpy and jira clients, unchanged, against `helpdesk-bot sandbox` over HTTP.

Each call here is one a script or the bot makes against a real desk; it must work against the sandbox
without patching the client, and answer with what the client parses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from jira import JIRA, JIRAError
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket

from connectors.jira.sandbox import JiraSandbox
from connectors.sandboxes import build
from connectors.zendesk.sandbox import ZendeskSandbox
from tests.conftest import ServedApp

FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
PAST = datetime(2000, 1, 1, tzinfo=UTC)


class Served:
    """A sandbox server and its desks' state, reset to the demo desks before each test."""

    def __init__(self, jira_mode: str) -> None:
        app, sandboxes = build(seed=True, jira_mode=jira_mode)
        self.zendesk = sandboxes["zendesk"]
        self.jira = sandboxes["jira"]
        assert isinstance(self.zendesk, ZendeskSandbox) and isinstance(self.jira, JiraSandbox)
        self.http = ServedApp(app)
        self.url = self.http.url

    def reset(self) -> None:
        for desk in (self.zendesk, self.jira):
            desk.reset(True)
            desk.control.reset()


@pytest.fixture(scope="module")
def _cloud() -> Iterator[Served]:
    served = Served("cloud")
    yield served
    served.http.close()


@pytest.fixture(scope="module")
def _datacenter() -> Iterator[Served]:
    served = Served("datacenter")
    yield served
    served.http.close()


@pytest.fixture
def sandbox(_cloud: Served) -> Served:
    _cloud.reset()
    return _cloud


@pytest.fixture
def datacenter(_datacenter: Served) -> Served:
    _datacenter.reset()
    return _datacenter


@pytest.fixture
def zd(sandbox: Served, monkeypatch: pytest.MonkeyPatch) -> Zenpy:
    # zenpy's own switches for a Zendesk that is not at https://<subdomain>.zendesk.com
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", urlsplit(sandbox.url).netloc)
    return Zenpy(subdomain="sandbox", email="alice@example.com", token="x")


def zendesk_ticket(zd: Zenpy, subject: str, **fields: Any) -> int:
    created = zd.tickets.create(Ticket(subject=subject, comment=Comment(body=f"{subject}: details"), **fields))
    return int(created.ticket.id)


# --- Zendesk -----------------------------------------------------------------------------------------


def test_zenpy(zd: Zenpy) -> None:
    assert zd.users.me().email == "alice@example.com"
    created = zd.tickets.create(Ticket(subject="From zenpy", comment=Comment(body="Hello from zenpy")))
    ticket = zd.tickets(id=created.ticket.id)
    assert ticket.subject == "From zenpy" and ticket.status == "new"
    ticket.status = "pending"
    ticket.comment = Comment(body="Waiting on you", public=True)
    zd.tickets.update(ticket)
    assert zd.tickets(id=ticket.id).status == "pending"
    assert [c.body for c in zd.tickets.comments(ticket=ticket.id)] == ["Hello from zenpy", "Waiting on you"]
    assert {m.user_id for m in zd.groups.memberships(group=201)} == {101, 102, 103}


def test_zenpy_lists_every_user(zd: Zenpy, sandbox: Served) -> None:
    for n in range(120):  # more than one page of 100
        sandbox.zendesk._user(5000 + n, f"Extra {n}", f"extra{n}@acme.test", "end-user")
    users = {u.email: u.role for u in zd.users()}
    assert len(users) == 8 + 120
    assert users["alice@example.com"] == "agent" and users["cathy@acme.test"] == "end-user"
    assert users["bot@example.com"] == "admin" and "extra119@acme.test" in users


def test_zenpy_search_by_type_status_tag_and_date(zd: Zenpy) -> None:
    wanted = zendesk_ticket(zd, "Waiting on the customer", status="pending", tags=["x"])
    zendesk_ticket(zd, "Pending without the tag", status="pending", tags=["y"])
    zendesk_ticket(zd, "Tagged but open", status="open", tags=["x"])
    found = zd.search(type="ticket", status="pending", tags="x", updated_less_than=FUTURE)
    assert [t.id for t in found] == [wanted]
    assert list(zd.search(type="ticket", status="pending", tags="x", updated_less_than=PAST)) == []
    assert {t.id for t in zd.search(type="ticket", status=["pending", "open"], tags="x")} >= {wanted}


def test_zenpy_search_users(zd: Zenpy) -> None:
    assert [u.email for u in zd.search("cathy", type="user")] == ["cathy@acme.test"]
    agents = {u.email for u in zd.search(type="user", role="agent")}
    assert agents == {f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "sam")}


def test_zenpy_search_count(zd: Zenpy) -> None:
    zendesk_ticket(zd, "Counted", status="pending")
    assert zd.search.count(type="ticket", status="pending") == 1


def test_search_stops_at_the_1000th_result_like_zendesk(zd: Zenpy, sandbox: Served) -> None:
    """Zendesk serves 1,000 search results at most: the 11th page of 100 is 422 (zenpy stops there), the
    count is still the real total, and the export endpoint pages through everything."""
    for n in range(1010):
        sandbox.zendesk._create_ticket(301, {"subject": f"bulk {n}", "comment": {"body": "x"}}, emit=False)
    auth = ("alice@example.com/token", "x")
    beyond = requests.get(
        f"{sandbox.url}/api/v2/search.json", params={"query": "type:ticket", "page": 11}, auth=auth, timeout=10
    )
    assert beyond.status_code == 422
    assert beyond.json() == {
        "error": "invalid",
        "description": "Invalid search: Requested response size was greater than Search Response Limits",
    }
    last = requests.get(
        f"{sandbox.url}/api/v2/search.json", params={"query": "type:ticket", "page": 10}, auth=auth, timeout=10
    ).json()
    assert last["count"] == 1012 and len(last["results"]) == 100
    assert len(list(zd.search(type="ticket"))) == 1000
    assert len(list(zd.search_export(type="ticket"))) == 1012


def test_unknown_zendesk_paths_answer_invalid_endpoint(sandbox: Served) -> None:
    auth = ("alice@example.com/token", "x")
    for method, path in (("GET", "/api/v2/nothing_here.json"), ("DELETE", "/api/v2/users/me.json")):
        resp = requests.request(method, f"{sandbox.url}{path}", auth=auth, timeout=10)
        assert (resp.status_code, resp.json()) == (404, {"error": "InvalidEndpoint", "description": "Not found"})


# --- Jira Cloud --------------------------------------------------------------------------------------


def test_jira(sandbox: Served) -> None:
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


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_jira_projects_issue_types_and_create_issue(mode: str, request: pytest.FixtureRequest) -> None:
    served: Served = request.getfixturevalue("sandbox" if mode == "cloud" else "datacenter")
    jira = JIRA(server=served.url, basic_auth=("alice@example.com", "x"))
    assert [(p.key, p.name) for p in jira.projects()] == [
        ("SD", "Service Desk"),
        ("DEV", "Development"),
        ("FEED", "Product Feedback"),
    ]
    dev = jira.project("DEV")
    assert dev.id == "10001" and {t.name for t in dev.issueTypes} == {"Bug", "Task"}
    assert {t.name for t in jira.issue_types()} == {"Service Request", "Bug", "Task"}
    bug = jira.create_issue(project="DEV", summary="Export drops rows", description="Steps: ...", issuetype="Bug")
    task = jira.create_issue(project="DEV", summary="Tidy up", description="-", issuetype={"name": "Task"})
    assert (bug.key, bug.fields.issuetype.name) == ("DEV-1", "Bug")
    assert served.jira.state.issues["DEV-2"]["fields"]["issuetype"]["name"] == "Task" == task.fields.issuetype.name
    with pytest.raises(KeyError):
        jira.create_issue(project="DEV", summary="x", issuetype="Epic")  # the project has no such type
    with pytest.raises(JIRAError) as caught:
        jira.create_issue(project="NOPE", summary="x", issuetype={"name": "Bug"})
    assert caught.value.status_code == 404
    assert "DEV-3" not in served.jira.state.issues


def test_jira_refuses_unknown_fields_on_create(sandbox: Served) -> None:
    jira = JIRA(server=sandbox.url, basic_auth=("alice@example.com", "x"))
    with pytest.raises(JIRAError) as caught:
        jira.create_issue(project="DEV", summary="x", issuetype={"name": "Bug"}, customfield_99999="y")
    assert caught.value.status_code == 400
    assert "customfield_99999" in caught.value.response.json()["errors"]
    assert "DEV-1" not in sandbox.jira.state.issues


def test_jira_group_members(sandbox: Served) -> None:
    jira = JIRA(server=sandbox.url, basic_auth=("alice@example.com", "x"))
    for n in range(60):  # past the 50 a page of group members holds
        sandbox.jira._user(f"agent-{n}", f"Agent {n}", f"agent{n}@example.com", "atlassian")
        sandbox.jira.state.groups["support"].append(f"agent-{n}")
    members = jira.group_members("support")
    assert len(members) == 63 and members["agent-alice"]["email"] == "alice@example.com"


def test_unknown_jira_cloud_routes_answer_a_problem_document(sandbox: Served) -> None:
    resp = requests.get(f"{sandbox.url}/rest/api/3/nopesuchroute", auth=("alice@example.com", "x"), timeout=10)
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No endpoint GET /rest/api/3/nopesuchroute.",
        "instance": "/rest/api/3/nopesuchroute",
    }
    wrong_method = requests.delete(f"{sandbox.url}/rest/api/3/myself", auth=("alice@example.com", "x"), timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["title"] == "Method Not Allowed"


def test_jira_cloud_has_removed_the_old_search(sandbox: Served) -> None:
    resp = requests.get(
        f"{sandbox.url}/rest/api/2/search", params={"jql": "project = SD"}, auth=("alice@example.com", "x"), timeout=10
    )
    assert resp.status_code == 410 and "/rest/api/3/search/jql" in resp.json()["errorMessages"][0]


def test_jira_cloud_v3_wants_adf_and_v2_wants_text(sandbox: Served) -> None:
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x"}]}]}
    auth = ("alice@example.com", "x")
    url = f"{sandbox.url}/rest/api"
    as_text = requests.post(f"{url}/3/issue/SD-1/comment", json={"body": "plain"}, auth=auth, timeout=10)
    assert as_text.status_code == 400
    assert as_text.json()["errors"] == {
        "comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    }
    assert requests.post(f"{url}/2/issue/SD-1/comment", json={"body": adf}, auth=auth, timeout=10).status_code == 400
    assert requests.post(f"{url}/3/issue/SD-1/comment", json={"body": adf}, auth=auth, timeout=10).status_code == 201
    assert requests.post(f"{url}/2/issue/SD-1/comment", json={"body": "x"}, auth=auth, timeout=10).status_code == 201
    assert len(sandbox.jira.state.comments["SD-1"]) == 2


# --- Jira Data Center ----------------------------------------------------------------------------------


def test_jira_client_on_data_center(datacenter: Served) -> None:
    """The client sees a Server deployment and uses REST v2 search with startAt pages and usernames."""
    for n in range(120):
        datacenter.jira._create("SD", "cust-cathy", {"summary": f"bulk {n}"}, emit=False)
    jira = JIRA(server=datacenter.url, basic_auth=("alice@example.com", "x"))
    assert jira.server_info()["deploymentType"] == "Server"
    me = jira.myself()
    assert me["name"] == "agent-alice" and "accountId" not in me
    found = jira.search_issues("project = SD", maxResults=False)
    assert len(found) == 122 and found.total == 122
    some = jira.search_issues("project = SD", maxResults=5, fields=["summary", "status"])
    assert set(some[0].raw["fields"]) == {"summary", "status"} and some.total == 122
    paths = {key for key in datacenter.jira.control.calls if "search" in key}
    assert paths == {"GET /rest/api/<int(min=2,max=2):v>/search"}
    assert jira.search_users(user="alice")[0].name == "agent-alice"
    jira.assign_issue("SD-2", "agent-bob")
    assert datacenter.jira.state.issues["SD-2"]["fields"]["assignee"]["name"] == "agent-bob"


def test_data_center_serves_only_rest_v2(datacenter: Served) -> None:
    auth = ("alice@example.com", "x")
    for method, path in (
        ("GET", "/rest/api/3/issue/SD-1"),
        ("POST", "/rest/api/2/search/jql"),
        ("POST", "/rest/api/2/search/approximate-count"),
    ):
        resp = requests.request(method, f"{datacenter.url}{path}", json={"jql": "project = SD"}, auth=auth, timeout=10)
        assert resp.status_code == 404, path
        assert resp.json() == {"message": f"null for uri: {datacenter.url}{path}", "status-code": 404}


def test_data_center_wants_wiki_text_not_adf(datacenter: Served) -> None:
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x"}]}]}
    auth = ("alice@example.com", "x")
    comment = requests.post(
        f"{datacenter.url}/rest/api/2/issue/SD-1/comment", json={"body": adf}, auth=auth, timeout=10
    )
    assert comment.status_code == 400 and comment.json()["errors"] == {"comment": "Operation value must be a string"}
    fields = {"project": {"key": "DEV"}, "issuetype": {"name": "Bug"}, "summary": "x", "description": adf}
    created = requests.post(f"{datacenter.url}/rest/api/2/issue", json={"fields": fields}, auth=auth, timeout=10)
    assert created.status_code == 400 and "description" in created.json()["errors"]
    by_account = requests.put(
        f"{datacenter.url}/rest/api/2/issue/SD-1",
        json={"fields": {"assignee": {"accountId": "agent-bob"}}},
        auth=auth,
        timeout=10,
    )
    assert by_account.status_code == 400  # Data Center names users, it has no account ids
