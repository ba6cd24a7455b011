"""One set of scenarios, run over every desk's adapter against that desk's sandbox, over real HTTP.

What the task layer relies on — normalized tickets, writes that land, errors mapped to the protocol's own
(429 → RateLimited with the server's delay, 409 → Conflict, 404 → NotFound), cursor search, bulk writes —
must hold the same on every desk, or a policy written once would behave differently per desk.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from bot.domain.errors import Conflict, NotFound, RateLimited
from bot.domain.tickets import NewComment, Person, Role, Status, TicketChanges, TicketQuery, Visibility
from connectors.base import DeskConfig, Helpdesk, iter_search
from connectors.jira.sandbox import JiraSandbox
from connectors.sandbox_kit import Sandbox
from connectors.sandboxes import build
from connectors.zendesk.sandbox import ZendeskSandbox
from tests.conftest import ServedApp
from tests.connectors.jira.openapi import SpecCheck as OpenApiRecorder
from tests.sandbox_helpers import DEMO_IDS, SUPPORT_GROUP, create_ticket, demo_options, sandbox_calls, sandbox_control

TARGETS = [("zendesk", "cloud"), ("jira", "cloud"), ("jira", "datacenter")]
"""(desk, Jira deployment): the Jira adapter runs against a Cloud and a Data Center sandbox."""
JIRA_MODES = [("jira", "cloud"), ("jira", "datacenter")]


class Sites:
    """One served sandbox per Jira deployment, made when first needed, with the Atlassian spec check."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[OpenApiRecorder, ServedApp, dict[str, Sandbox]]] = {}

    def get(self, mode: str) -> tuple[OpenApiRecorder, ServedApp, dict[str, Sandbox]]:
        if mode not in self._made:
            app, sandboxes = build(seed=True, jira_mode=mode)
            self._made[mode] = (OpenApiRecorder(app), ServedApp(app), sandboxes)
        return self._made[mode]

    def close(self) -> None:
        for _, served, _ in self._made.values():
            served.close()


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    made = Sites()
    yield made
    made.close()


@pytest.fixture(scope="module")
def recorder_and_sandbox(sites: Sites) -> tuple[OpenApiRecorder, ServedApp]:
    recorder, served, _ = sites.get("cloud")
    return recorder, served


@pytest.fixture(params=TARGETS, ids=["zendesk", "jira-cloud", "jira-datacenter"])
def target(request: pytest.FixtureRequest) -> tuple[str, str]:
    return (str(request.param[0]), str(request.param[1]))


@pytest.fixture
def sandbox(target: tuple[str, str], sites: Sites) -> ServedApp:
    return sites.get(target[1])[1]


@pytest.fixture
def state(target: tuple[str, str], sites: Sites) -> Sandbox:
    """The desk's sandbox object itself, for setting up what no API call makes quickly (many users)."""
    return sites.get(target[1])[2][target[0]]


@pytest.fixture
def desk(target: tuple[str, str], sites: Sites) -> Iterator[tuple[str, Helpdesk]]:
    """The desk's adapter on a freshly seeded sandbox; every exchange must match Atlassian's OpenAPI specs
    where they apply (Cloud REST v3 and the service desk API)."""
    name, mode = target
    recorder, sandbox, _ = sites.get(mode)
    sandbox_control(sandbox.url, name, "reset", {"seed": True})
    recorder.take()
    adapter = importlib.import_module(f"connectors.{name}.adapter")
    options = demo_options(name)
    if name == "jira":
        options = options.model_copy(update={"deployment": mode})
    yield name, adapter.build(DeskConfig(url=sandbox.url, email="bot@example.com", token="x", options=options))
    violations = recorder.take()
    sandbox_control(sandbox.url, name, "reset", {"seed": True})
    assert not violations, "traffic that does not match Atlassian's OpenAPI spec:\n" + "\n".join(violations)


def test_me_is_the_bot_user(desk: tuple[str, Helpdesk]) -> None:
    _, adapter = desk
    assert adapter.me().email == "bot@example.com"


def test_new_ticket_reads_back_normalized(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ticket_id = create_ticket(sandbox.url, name, "cathy@acme.test", "Cannot log in", "Since 9:00 login fails.")
    ticket = adapter.get_ticket(ticket_id)
    assert ticket.id == ticket_id and ticket.subject == "Cannot log in"
    assert ticket.status in (Status.NEW, Status.OPEN)
    assert ticket.requester.email == "cathy@acme.test" and ticket.requester.id == DEMO_IDS[name]["cathy"]
    assert ticket.requester.role is Role.CUSTOMER
    assert ticket.assignee_id is None
    assert "Since 9:00 login fails." in ticket.description


def test_one_apply_assigns_types_copies_and_comments(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ids = DEMO_IDS[name]
    ticket = adapter.get_ticket(create_ticket(sandbox.url, name, "cathy@acme.test", "Export broken", "CSV fails."))
    adapter.apply(
        ticket,
        TicketChanges(
            assignee_id=ids["alice"],
            add_participant_ids=(ids["sam"],),
            add_tags=("helpdesk-bot-triaged",),
            comment=NewComment("Hi Cathy, we are on it.", Visibility.PUBLIC),
        ),
    )
    adapter.apply(replace(ticket, version=""), TicketChanges(comment=NewComment("Rule: bugs", Visibility.INTERNAL)))
    after = adapter.get_ticket(ticket.id)
    assert after.assignee_id == ids["alice"]
    assert ids["sam"] in after.participant_ids
    assert "helpdesk-bot-triaged" in after.tags
    bodies = {(c.body.strip(), c.visibility) for c in after.comments}
    assert ("Hi Cathy, we are on it.", Visibility.PUBLIC) in bodies
    assert ("Rule: bugs", Visibility.INTERNAL) in bodies


def test_status_change_to_solved(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ticket = adapter.get_ticket(create_ticket(sandbox.url, name, "gary@globex.test", "Reset my password", "Please."))
    adapter.apply(
        ticket,
        TicketChanges(status=Status.SOLVED, resolution="Done", comment=NewComment("Call us.", Visibility.PUBLIC)),
    )
    assert adapter.get_ticket(ticket.id).status is Status.SOLVED


def test_429_becomes_rate_limited_with_the_servers_delay(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ticket_id = create_ticket(sandbox.url, name, "cathy@acme.test", "x", "y")
    sandbox_control(sandbox.url, name, "faults", {"count": 1, "status": 429, "retry_after": 7})
    with pytest.raises(RateLimited) as caught:
        adapter.get_ticket(ticket_id)
    assert caught.value.retry_after == 7


def test_spent_budget_answers_429_with_retry_after(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ticket_id = create_ticket(sandbox.url, name, "cathy@acme.test", "budget", "test")
    sandbox_control(sandbox.url, name, "budget", {"per_minute": 3})
    with pytest.raises(RateLimited) as caught:
        for _ in range(10):
            adapter.get_ticket(ticket_id)
    assert 1 <= caught.value.retry_after <= 61


def test_409_becomes_conflict(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ticket = adapter.get_ticket(create_ticket(sandbox.url, name, "cathy@acme.test", "conflict", "test"))
    sandbox_control(sandbox.url, name, "faults", {"count": 1, "status": 409})
    with pytest.raises(Conflict):
        adapter.apply(ticket, TicketChanges(assignee_id=DEMO_IDS[name]["bob"]))


def test_unknown_ticket_is_not_found(desk: tuple[str, Helpdesk]) -> None:
    name, adapter = desk
    with pytest.raises(NotFound):
        adapter.get_ticket("987654" if name == "zendesk" else "SD-987654")


def test_transient_5xx_is_not_retried_inside_the_adapter_for_writes(
    desk: tuple[str, Helpdesk], sandbox: ServedApp
) -> None:
    """A write that failed with 503 is reported, not silently re-sent: the task layer owns retries."""
    name, adapter = desk
    ticket = adapter.get_ticket(create_ticket(sandbox.url, name, "cathy@acme.test", "retry", "test"))
    before = sandbox_calls(sandbox.url, name)["total"]
    sandbox_control(sandbox.url, name, "faults", {"count": 1, "status": 503})
    with pytest.raises(Exception) as caught:
        adapter.apply(replace(ticket, version=""), TicketChanges(comment=NewComment("once", Visibility.INTERNAL)))
    assert not isinstance(caught.value, (Conflict, NotFound))
    assert sandbox_calls(sandbox.url, name)["total"] - before == 1


def test_find_person_and_create_customer(desk: tuple[str, Helpdesk]) -> None:
    name, adapter = desk
    cathy = adapter.find_person("cathy@acme.test")
    assert cathy is not None and cathy.id == DEMO_IDS[name]["cathy"]
    assert adapter.find_person("newbie@acme.test") is None
    created = adapter.find_person("newbie@acme.test", create=True, name="New Bie")
    assert created is not None and created.email == "newbie@acme.test"
    assert adapter.find_person("newbie@acme.test") == created


def test_group_agents_with_open_ticket_counts(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ids = DEMO_IDS[name]
    create_ticket(sandbox.url, name, "cathy@acme.test", "for bob", "x", assignee=ids["bob"])
    loads = {load.agent.id: load.open_tickets for load in adapter.group_agents(SUPPORT_GROUP[name])}
    assert set(loads) == {ids["alice"], ids["bob"], ids["carol"]}
    assert loads[ids["bob"]] >= 1


def test_group_agents_reads_every_page_of_a_large_group(
    desk: tuple[str, Helpdesk], state: Sandbox, target: tuple[str, str]
) -> None:
    """Jira lists group members 50 at a time (Zendesk memberships 100 at a time): all 163 are read."""
    name, adapter = desk
    for n in range(160):
        if isinstance(state, JiraSandbox):
            state._user(f"agent-x{n}", f"Extra {n}", f"x{n}@example.com", "atlassian")
            state.state.groups["support"].append(f"agent-x{n}")
        else:
            assert isinstance(state, ZendeskSandbox)
            state._user(7000 + n, f"Extra {n}", f"x{n}@example.com", "agent")
            state.state.memberships.append(state._membership(7000 + n, 201))
    agents = {load.agent.id for load in adapter.group_agents(SUPPORT_GROUP[name], with_load=False)}
    assert len(agents) == 163 and DEMO_IDS[name]["alice"] in agents


@pytest.mark.parametrize("target", JIRA_MODES, ids=["jira-cloud", "jira-datacenter"], indirect=True)
def test_linked_bug_mentions_the_product_manager_as_the_deployment_writes_it(
    desk: tuple[str, Helpdesk], sandbox: ServedApp, target: tuple[str, str]
) -> None:
    """Cloud: ADF description and a mention node; Data Center: wiki text and `[~username]`."""
    _, adapter = desk
    ticket = adapter.get_ticket(create_ticket(sandbox.url, "jira", "cathy@acme.test", "Export empty", "CSV empty."))
    dave = Person("agent-dave", "Dave Devlead", "dave@example.com", Role.AGENT)
    assert adapter.find_linked_issue(ticket, project="DEV") is None
    bug = adapter.create_linked_issue(
        ticket,
        project="DEV",
        summary="Export writes an empty CSV",
        description="Steps:\n1. Export",
        comment=NewComment("please have a look", Visibility.INTERNAL, mentions=(dave,)),
    )
    auth = ("alice@example.com", "x")
    issue = requests.get(f"{sandbox.url}/rest/api/2/issue/{bug.key}", auth=auth, timeout=10).json()
    assert issue["fields"]["description"] == "Steps:\n1. Export"
    assert issue["fields"]["issuelinks"][0]["inwardIssue"]["key"] == ticket.id
    comments = requests.get(f"{sandbox.url}/rest/api/2/issue/{bug.key}/comment", auth=auth, timeout=10).json()
    mention = "[~accountid:agent-dave]" if target[1] == "cloud" else "[~agent-dave]"
    assert comments["comments"][0]["body"].startswith(mention)
    found = adapter.find_linked_issue(ticket, project="DEV")  # a retry finds it instead of making another
    assert found is not None and found.key == bug.key


def test_search_follows_cursors_past_one_page(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    made = {create_ticket(sandbox.url, name, "gary@globex.test", f"bulk {i}", "x") for i in range(130)}
    found = {t.id for t in iter_search(adapter, TicketQuery(statuses=(Status.NEW, Status.OPEN)))}
    assert made <= found


def test_bulk_apply_250_tickets(desk: tuple[str, Helpdesk], sandbox: ServedApp) -> None:
    name, adapter = desk
    ids = [create_ticket(sandbox.url, name, "gary@globex.test", f"bulk {i}", "x") for i in range(250)]
    result = adapter.bulk_apply({i: TicketChanges(add_tags=("bulk-done",), priority="low") for i in ids})
    assert result.failed == {}
    if name == "zendesk":
        assert result.jobs == 3  # update_many takes at most 100 tickets per job
    for ticket_id in (ids[0], ids[120], ids[-1]):
        assert "bulk-done" in adapter.get_ticket(ticket_id).tags


def test_zendesk_write_from_a_stale_snapshot_is_a_conflict(
    recorder_and_sandbox: tuple[OpenApiRecorder, ServedApp],
) -> None:
    """Zendesk's safe_update: a human's change since the snapshot turns the bot's write into 409."""
    sandbox = recorder_and_sandbox[1]
    sandbox_control(sandbox.url, "zendesk", "reset", {"seed": True})
    adapter = importlib.import_module("connectors.zendesk.adapter").build(
        DeskConfig(url=sandbox.url, email="bot@example.com", token="x", options=demo_options("zendesk"))
    )
    ids = DEMO_IDS["zendesk"]
    snapshot = adapter.get_ticket(create_ticket(sandbox.url, "zendesk", "cathy@acme.test", "stale", "x"))
    time.sleep(1.1)  # Zendesk's updated_at has one-second resolution
    adapter.apply(snapshot, TicketChanges(assignee_id=ids["carol"]))
    with pytest.raises(Conflict):
        adapter.apply(snapshot, TicketChanges(assignee_id=ids["bob"]))
    assert adapter.get_ticket(snapshot.id).assignee_id == ids["carol"]


def test_the_openapi_check_catches_traffic_outside_the_spec(
    recorder_and_sandbox: tuple[OpenApiRecorder, ServedApp],
) -> None:
    """The spec check itself can fail: a comment whose fields have the wrong types is reported."""
    recorder, sandbox = recorder_and_sandbox
    recorder.take()
    before = recorder.checked
    resp = requests.post(
        f"{sandbox.url}/rest/servicedeskapi/request/SD-1/comment",
        json={"body": ["not", "text"], "public": "yes"},
        auth=("bot@example.com", "x"),
        timeout=10,
    )
    assert resp.status_code == 400
    assert recorder.checked == before + 1
    violations = recorder.take()
    assert violations and "request POST /rest/servicedeskapi/request/SD-1/comment" in violations[0]
