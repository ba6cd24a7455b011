"""Routing by request type end to end, on both desks, against the sandboxes: configuration changes go to the
account manager the Salesforce fake names, with the policy's document checklist; feedback becomes one Aha!
idea (or, with `feedback.jira`, one issue of the Jira FEED project) whose reference the customer is told,
however often the event is delivered or replayed; every ADF body the bot writes on Jira Cloud is valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml

from bot.domain.events import EventKind
from bot.domain.tickets import Ticket, Visibility
from bot.eventlog import EventRecord, State
from bot.policy.schema import DEFAULT_POLICY
from connectors import webhook_module
from tests.adf import adf_errors
from tests.conftest import wait_for
from tests.sandbox_helpers import DEMO_IDS, create_ticket
from tests.stack import SECRETS, Stack, policy_with_budgets, running_stack

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
HANDED_OFF = "helpdesk-bot-handed-off"
RECORDED = "helpdesk-bot-feedback-recorded"


ROOMY = {desk: {"per_minute": 5000} for desk in DESKS}
"""Many tickets in one module: the demo desks' API budgets would make the later ones wait."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("routes")
    with running_stack(home, extra_env=policy_with_budgets(home, ROOMY)) as running:
        yield running


@pytest.fixture(scope="module")
def jira_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The packaged policy with feedback recorded as issues of the Jira project FEED instead of Aha!."""
    home = tmp_path_factory.mktemp("routes-jira-target")
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["feedback"] = {"jira": {"project": "FEED", "issue_type": "Task"}}
    for desk, budget in ROOMY.items():
        policy["desks"][desk]["api_budget"] = budget
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    with running_stack(home, extra_env={"HELPDESK_BOT_POLICY": str(path)}) as running:
        yield running


def processed(stack: Stack, desk: str, ticket_id: str) -> EventRecord:
    """The ticket's creation event, once the worker finished it (failing with the worker's log otherwise)."""

    def done() -> EventRecord | None:
        for rec in stack.log.records(stack.log.ticket_event_ids(desk, ticket_id)):
            if rec.event.kind is EventKind.TICKET_CREATED and rec.state in (State.DONE, State.FAILED):
                return rec
        return None

    try:
        rec: EventRecord = wait_for(done, timeout=60, interval=0.2)
    except AssertionError:
        pytest.fail(f"{desk} ticket {ticket_id} was not processed; worker log:\n{stack.worker.logs()[-6000:]}")
    assert rec.state is State.DONE, rec.error
    return rec


def comments(ticket: Ticket, visibility: Visibility, text: str) -> list[str]:
    return [c.body for c in ticket.comments if c.visibility is visibility and text in c.body]


def redeliver_and_replay(stack: Stack, desk: str, rec: EventRecord) -> None:
    """The desk sends the event's webhook again, as its retry would (same body; on Jira the same
    `X-Atlassian-Webhook-Identifier`): a duplicate, `200`, nothing done. Then an operator replays it."""
    body = json.dumps(rec.event.payload).encode()
    headers = {"Content-Type": "application/json", **webhook_module(desk).sign(SECRETS[desk], body)}
    if desk == "jira":
        headers["X-Atlassian-Webhook-Identifier"] = rec.event.delivery_id.removeprefix("delivery:")
    again = requests.post(str(stack.sandboxes[desk].emitter.url), data=body, headers=headers, timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text
    stack.settled(desk, rec.event.ticket_id)  # the replay takes the ticket's lock, as the worker does
    replay = stack.cli("replay", rec.event.id)
    assert replay.returncode == 0, replay.stderr


# --- configuration changes -----------------------------------------------------------------------------


@pytest.mark.parametrize("desk", DESKS)
def test_a_configuration_change_goes_to_the_account_owner_salesforce_names(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(
        stack.sandbox_url, desk, "cathy@acme.test", "Please enable SSO", "Can you configure SAML single sign-on?"
    )
    rec = processed(stack, desk, ticket_id)
    assert [r.runbook for r in rec.decision.runbooks][:3] == ["triage", "linked-bug", "config-change"]  # type: ignore[union-attr]
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.assignee_id == DEMO_IDS[desk]["sam"]  # Sam is in no support group: only Salesforce names him
    if desk == "zendesk":
        assert ticket.group_id == "203"  # Sam's own group: Zendesk refuses an assignee outside the ticket's group
    [note] = comments(ticket, Visibility.INTERNAL, "Configuration change")
    assert "handed to the account manager, Sam Staff <sam@example.com>, owner of Salesforce account Acme" in note
    assert "[ ] Template: Configuration change request form - https://docs.example.com/forms/" in note
    assert "[ ] Guide: Single sign-on setup guide - https://docs.example.com/guides/sso" in note
    assert HANDED_OFF in ticket.tags

    redeliver_and_replay(stack, desk, rec)
    again = stack.desk(desk).get_ticket(ticket_id)
    assert len(comments(again, Visibility.INTERNAL, "Configuration change")) == 1
    assert again.assignee_id == DEMO_IDS[desk]["sam"]


def test_the_owner_is_read_from_salesforce_each_time(stack: Stack) -> None:
    salesforce: Any = stack.sandboxes["salesforce"]
    dave = salesforce.add_user("Dave Devlead", "dave@example.com")
    with salesforce._lock:
        acme = next(a for a in salesforce.state.accounts.values() if a["Name"] == "Acme")
        sam, acme["OwnerId"] = acme["OwnerId"], dave
    try:
        ticket_id = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Change our settings", "New VAT id.")
        processed(stack, "jira", ticket_id)
        ticket = stack.desk("jira").get_ticket(ticket_id)
        assert ticket.assignee_id == DEMO_IDS["jira"].get("dave", "agent-dave")
        [note] = comments(ticket, Visibility.INTERNAL, "Configuration change")
        assert "Dave Devlead <dave@example.com>" in note and "Single sign-on" not in note  # no SSO, no SSO guide
    finally:
        acme["OwnerId"] = sam


@pytest.mark.parametrize("desk", DESKS)
def test_an_account_manager_without_a_desk_account_is_named_and_the_ticket_stays(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, "gary@globex.test", "Please disable SSO", "Switch it off.")
    processed(stack, desk, ticket_id)
    ticket = stack.desk(desk).get_ticket(ticket_id)
    [note] = comments(ticket, Visibility.INTERNAL, "Configuration change")
    assert "Gina Growth <gina@example.com>, owner of Salesforce account Globex" in note
    assert "no agent account" in note and "stays where triage put it" in note
    assert ticket.assignee_id in {DEMO_IDS[desk][a] for a in ("alice", "bob", "carol")}  # triage's choice stands
    assert HANDED_OFF in ticket.tags


def test_an_agent_hands_an_older_ticket_over_with_a_tag(stack: Stack) -> None:
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Invoice copy", "Please send it.")
    processed(stack, "zendesk", ticket_id)
    zendesk = stack.desk("zendesk")
    assert HANDED_OFF not in zendesk.get_ticket(ticket_id).tags  # a general inquiry stays with triage's pick
    label_as_agent(stack, "zendesk", ticket_id, "helpdesk-bot-handoff")
    wait_for(lambda: zendesk.get_ticket(ticket_id).assignee_id == DEMO_IDS["zendesk"]["sam"], timeout=60)
    stack.settled("zendesk", ticket_id)
    ticket = zendesk.get_ticket(ticket_id)
    assert len(comments(ticket, Visibility.INTERNAL, "Configuration change: handed to the account manager")) == 1
    assert HANDED_OFF in ticket.tags


# --- feedback --------------------------------------------------------------------------------------------


def aha_ideas(stack: Stack, desk: str, ticket_id: str) -> list[dict[str, Any]]:
    tag = f"helpdesk-bot-{desk}-{ticket_id}".lower()
    return [i for i in stack.sandboxes["aha"].state.ideas.values() if tag in i["tags"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("desk", DESKS)
def test_feedback_becomes_one_aha_idea_and_the_customer_is_told_its_reference(stack: Stack, desk: str) -> None:
    text = "Feature request: a dark theme for the reports page would be great for night shifts."
    ticket_id = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", "Feature request: dark reports", text)
    rec = processed(stack, desk, ticket_id)
    [idea] = aha_ideas(stack, desk, ticket_id)
    assert idea["name"] == "Feature request: dark reports" and "night shifts" in idea["description"]["body"]
    assert idea["created_by_user"]["email"] == "cathy@acme.test"
    ticket = stack.desk(desk).get_ticket(ticket_id)
    number = idea["reference_num"]
    assert comments(ticket, Visibility.INTERNAL, "Feedback recorded") == [
        f"Feedback recorded in Aha! as {number}: {idea['url']}"
    ]
    [reply] = comments(ticket, Visibility.PUBLIC, "thank you for your feedback")
    assert f"as idea {number}" in reply
    assert comments(ticket, Visibility.PUBLIC, "passed to our product team") == []
    assert RECORDED in ticket.tags

    redeliver_and_replay(stack, desk, rec)
    assert len(aha_ideas(stack, desk, ticket_id)) == 1
    again = stack.desk(desk).get_ticket(ticket_id)
    assert len(comments(again, Visibility.PUBLIC, "thank you for your feedback")) == 1
    assert len(comments(again, Visibility.INTERNAL, "Feedback recorded")) == 1


def test_an_agent_records_an_older_tickets_feedback_with_a_label(stack: Stack) -> None:
    key = create_ticket(stack.sandbox_url, "jira", "gary@globex.test", "Reports", "Please add a yearly view.")
    processed(stack, "jira", key)
    assert aha_ideas(stack, "jira", key) == []
    label_as_agent(stack, "jira", key, "helpdesk-bot-feedback")
    [idea] = wait_for(lambda: aha_ideas(stack, "jira", key), timeout=60)
    wait_for(lambda: RECORDED in stack.desk("jira").get_ticket(key).tags, timeout=60)
    ticket = stack.desk("jira").get_ticket(key)
    [reply] = comments(ticket, Visibility.PUBLIC, "thank you for your feedback")
    assert reply.startswith("Hello Gary,") and f"as idea {idea['reference_num']}" in reply


@pytest.mark.parametrize("desk", DESKS)
def test_feedback_as_an_issue_of_the_jira_feed_project(jira_target: Stack, desk: str) -> None:
    stack = jira_target
    ticket_id = create_ticket(
        stack.sandbox_url, desk, "gary@globex.test", "Suggestion: CSV export", "It would be nice to export CSV."
    )
    rec = processed(stack, desk, ticket_id)
    label = f"helpdesk-bot-ref-{desk}-{ticket_id}".lower()

    def feed() -> list[dict[str, Any]]:
        issues = stack.sandboxes["jira"].state.issues.values()  # type: ignore[attr-defined]
        return [i for i in issues if i["fields"]["project"]["key"] == "FEED" and label in i["fields"]["labels"]]

    [issue] = feed()
    assert issue["fields"]["summary"] == "Suggestion: CSV export"
    assert adf_errors(issue["fields"]["description"]) == []
    ticket = stack.desk(desk).get_ticket(ticket_id)
    [note] = comments(ticket, Visibility.INTERNAL, "Feedback recorded")
    assert note.startswith(f"Feedback recorded in Jira as {issue['key']}: ")
    [reply] = comments(ticket, Visibility.PUBLIC, "thank you for your feedback")
    assert f"as idea {issue['key']}" in reply
    assert stack.sandboxes["aha"].state.ideas == {} or not aha_ideas(stack, desk, ticket_id)  # type: ignore[attr-defined]

    redeliver_and_replay(stack, desk, rec)
    assert len(feed()) == 1
    assert len(comments(stack.desk(desk).get_ticket(ticket_id), Visibility.PUBLIC, "your feedback")) == 1


# --- linked dev bugs (the packaged runbook) -----------------------------------------------------------


def dev_bugs(stack: Stack, desk: str, ticket_id: str) -> list[dict[str, Any]]:
    label = f"helpdesk-bot-ref-{desk}-{ticket_id}".lower()
    issues = stack.sandboxes["jira"].state.issues.values()  # type: ignore[attr-defined]
    return [i for i in issues if i["fields"]["project"]["key"] == "DEV" and label in i["fields"]["labels"]]


def bug_event(stack: Stack, desk: str, ticket_id: str) -> EventRecord:
    """The ticket's event whose `linked-bug` run filed the bug."""

    def found() -> EventRecord | None:
        for rec in stack.log.records(stack.log.ticket_event_ids(desk, ticket_id)):
            runs = rec.decision.runbooks if rec.decision else ()
            if rec.state is State.DONE and any(r.runbook == "linked-bug" and r.writes_sent for r in runs):
                return rec
        return None

    rec: EventRecord = wait_for(found, timeout=60, interval=0.2)
    return rec


def label_as_agent(stack: Stack, desk: str, ticket_id: str, tag: str) -> None:
    """Alice adds a tag (Zendesk) or label (Jira) on the desk itself."""
    if desk == "zendesk":
        url, body = f"{stack.sandbox_url}/api/v2/tickets/{ticket_id}.json", {"ticket": {"additional_tags": [tag]}}
        assert requests.put(url, json=body, auth=("alice@example.com/token", "x"), timeout=10).ok
    else:
        url, body = f"{stack.sandbox_url}/rest/api/3/issue/{ticket_id}", {"update": {"labels": [{"add": tag}]}}
        assert requests.put(url, json=body, auth=("alice@example.com", "x"), timeout=10).status_code == 204


@pytest.mark.parametrize("desk", DESKS)
def test_an_agents_bug_label_files_one_bug_under_a_duplicate_delivery_and_a_replay(stack: Stack, desk: str) -> None:
    ticket_id = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", "Totals wrong", "1. Open invoice\n2. Add")
    processed(stack, desk, ticket_id)
    label_as_agent(stack, desk, ticket_id, "helpdesk-bot-bug")
    rec = bug_event(stack, desk, ticket_id)
    [bug] = dev_bugs(stack, desk, ticket_id)
    redeliver_and_replay(stack, desk, rec)
    assert [b["key"] for b in dev_bugs(stack, desk, ticket_id)] == [bug["key"]]
    notes = comments(stack.desk(desk).get_ticket(ticket_id), Visibility.INTERNAL, bug["key"])
    assert len(notes) == 1 and notes[0].startswith("Bug filed in the dev project:")


def test_a_jsm_customer_is_told_once_when_the_bug_is_fixed(stack: Stack) -> None:
    key = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Search misses results", "1. Search\n2. None")
    processed(stack, "jira", key)
    assert stack.cli("escalate-bug", key).returncode == 0
    [bug] = dev_bugs(stack, "jira", key)
    url = f"{stack.sandbox_url}/rest/api/3/issue/{bug['key']}/transitions"

    def move(transition: str, resolution: str | None = None) -> None:
        body: dict[str, Any] = {"transition": {"id": transition}}
        if resolution:
            body["fields"] = {"resolution": {"name": resolution}}
        assert requests.post(url, json=body, auth=("dave@example.com", "x"), timeout=10).status_code == 204

    def noted(count: int) -> bool:
        ticket = stack.desk("jira").get_ticket(key)
        return len(comments(ticket, Visibility.INTERNAL, f"Dev bug {bug['key']} is now")) >= count

    move("71", "Done")
    wait_for(lambda: noted(1), timeout=40)
    move("81")
    wait_for(lambda: noted(2), timeout=40)
    move("71", "Done")
    wait_for(lambda: noted(3), timeout=40)
    told = comments(stack.desk("jira").get_ticket(key), Visibility.PUBLIC, "has been fixed")
    assert len(told) == 1 and bug["key"] in told[0]


# --- what the bot wrote on Jira Cloud --------------------------------------------------------------------


def test_every_adf_body_the_bot_wrote_on_jira_cloud_is_valid(stack: Stack) -> None:
    """Runs last in this module: the tickets above (hand-off notes, feedback notes and replies on JSM), plus a
    dev bug for a Zendesk ticket with its product-manager mention, all checked against Atlassian's schema."""
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "API export broken", "1. a\n2. b")
    processed(stack, "zendesk", ticket_id)
    assert stack.cli("escalate-bug", ticket_id).returncode == 0
    jira: Any = stack.sandboxes["jira"]
    bot = "bot-0001"
    issues = [i for i in jira.state.issues.values() if (i["fields"].get("reporter") or {}).get("accountId") == bot]
    bodies = [("description of " + i["key"], i["fields"]["description"]) for i in issues]
    bodies += [
        (f"comment {c['id']} on {key}", c["body"])
        for key, cs in jira.state.comments.items()
        for c in cs
        if c["author"]["accountId"] == bot and not isinstance(c["body"], str)
    ]
    kinds = {i["fields"]["project"]["key"] for i in issues}
    assert "DEV" in kinds and len(bodies) > len(issues)  # the bug and the PM mention are among them
    errors = {where: problems for where, body in bodies if (problems := adf_errors(body))}
    assert errors == {}
