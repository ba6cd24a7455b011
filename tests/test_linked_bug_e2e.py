"""Linked dev bugs end to end: an agent's tag on a Zendesk ticket and `escalate-bug` on a JSM request each file
exactly one bug in the Jira sandbox's DEV project, mention the product manager, and note the bug on the ticket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.domain.events import EventKind
from bot.domain.tickets import Visibility
from bot.eventlog import State
from tests.conftest import wait_for
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("bugs")) as running:
        yield running


def bugs_for(stack: Stack, desk: str, ticket_id: str) -> list[dict[str, Any]]:
    label = f"helpdesk-bot-ref-{desk}-{ticket_id}".lower()
    issues = stack.sandboxes["jira"].state.issues.values()  # type: ignore[attr-defined]
    return [i for i in issues if label in i["fields"]["labels"] and i["fields"]["project"]["key"] == "DEV"]


def triaged(stack: Stack, desk: str, ticket_id: str) -> None:
    def done() -> bool:
        return any(
            r.event.kind is EventKind.TICKET_CREATED and r.state is State.DONE
            for r in stack.log.records(stack.log.ticket_event_ids(desk, ticket_id))
        )

    wait_for(done, timeout=40)


def test_an_agents_tag_on_a_zendesk_ticket_files_one_bug_that_pings_the_pm(stack: Stack) -> None:
    steps = "Since today:\n1. Open Reports\n2. Click Export\nExpected: a CSV\nActual: error 500"
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Report export broken", steps)
    triaged(stack, "zendesk", ticket_id)
    tag = {"ticket": {"additional_tags": ["helpdesk-bot-bug"]}}
    url = f"{stack.sandbox_url}/api/v2/tickets/{ticket_id}.json"
    assert requests.put(url, json=tag, auth=("alice@example.com/token", "x"), timeout=10).ok  # an agent, not the bot

    bug = wait_for(lambda: bugs_for(stack, "zendesk", ticket_id), timeout=40)[0]
    jira = stack.sandboxes["jira"]
    comments = wait_for(lambda: jira.state.comments.get(bug["key"]), timeout=20)  # type: ignore[attr-defined]
    description = str(bug["fields"]["description"])
    assert "Open Reports" in description and "Click Export" in description and "error 500" in description
    assert any("agent-dave" in str(c["body"]) for c in comments), comments  # Dave, the PM, is mentioned
    links = jira.state.remote_links[bug["key"]]  # type: ignore[attr-defined]
    assert links[0]["object"]["title"] == f"Zendesk ticket {ticket_id}"
    assert links[0]["object"]["url"].endswith(f"/agent/tickets/{ticket_id}")  # where an engineer can open it

    def noted() -> list[str]:
        ticket = stack.desk("zendesk").get_ticket(ticket_id)
        return [c.body for c in ticket.comments if c.visibility is Visibility.INTERNAL and bug["key"] in c.body]

    assert len(wait_for(noted, timeout=20)) == 1
    wait_for(lambda: "helpdesk-bot-bug-linked" in stack.desk("zendesk").get_ticket(ticket_id).tags, timeout=20)

    # The tag stays on the ticket and more updates arrive: still one bug, one note.
    again = {"ticket": {"additional_tags": ["customer-waiting"]}}
    assert requests.put(url, json=again, auth=("alice@example.com/token", "x"), timeout=10).ok
    escalate = stack.cli("escalate-bug", ticket_id)
    assert escalate.returncode == 0, escalate.stderr
    assert "already has a bug" in escalate.stdout
    assert len(bugs_for(stack, "zendesk", ticket_id)) == 1
    assert len(noted()) == 1


def test_escalate_bug_on_a_jsm_request_links_the_issues_once(stack: Stack) -> None:
    key = create_ticket(stack.sandbox_url, "jira", "gary@globex.test", "API key page blank", "- log in\n- open keys")
    triaged(stack, "jira", key)
    preview = stack.cli("escalate-bug", key, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "(dry run: nothing written)" in preview.stdout and "create Bug in DEV" in preview.stdout
    assert bugs_for(stack, "jira", key) == []

    first = stack.cli("escalate-bug", key)
    assert first.returncode == 0, first.stderr
    bug = bugs_for(stack, "jira", key)
    assert len(bug) == 1
    links = stack.sandboxes["jira"].state.issues[key]["fields"]["issuelinks"]  # type: ignore[attr-defined]
    assert [link["outwardIssue"]["key"] for link in links if "outwardIssue" in link] == [bug[0]["key"]]
    second = stack.cli("escalate-bug", key)
    assert second.returncode == 0 and len(bugs_for(stack, "jira", key)) == 1


def test_escalate_bug_for_a_missing_ticket_is_one_line(stack: Stack) -> None:
    missing = stack.cli("escalate-bug", "SD-9999")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr


def transition(stack: Stack, key: str, transition_id: str, resolution: str | None = None) -> None:
    """A developer (Dave) moves the bug in the dev project, as on the real site."""
    body: dict[str, Any] = {"transition": {"id": transition_id}}
    if resolution:
        body["fields"] = {"resolution": {"name": resolution}}
    url = f"{stack.sandbox_url}/rest/api/3/issue/{key}/transitions"
    assert requests.post(url, json=body, auth=("dave@example.com", "x"), timeout=10).status_code == 204


def test_the_bugs_status_comes_back_to_the_ticket_and_the_customer_is_told_once(stack: Stack) -> None:
    ticket_id = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Invoice PDF empty", "1. a\n2. b")
    triaged(stack, "zendesk", ticket_id)
    assert stack.cli("escalate-bug", ticket_id).returncode == 0
    key = bugs_for(stack, "zendesk", ticket_id)[0]["key"]
    zendesk = stack.desk("zendesk")

    def comments(visibility: Visibility, text: str) -> list[str]:
        ticket = zendesk.get_ticket(ticket_id)
        return [c.body for c in ticket.comments if c.visibility is visibility and text in c.body]

    transition(stack, key, "71", "Done")
    told = wait_for(lambda: comments(Visibility.PUBLIC, "has been fixed"), timeout=40)
    assert len(told) == 1 and key in told[0] and told[0].startswith("Hello Cathy")
    # One Zendesk update carries one comment: the note may land a moment after the customer's message.
    assert wait_for(lambda: comments(Visibility.INTERNAL, f"Dev bug {key} is now solved (resolution Done)"), timeout=40)
    ticket = zendesk.get_ticket(ticket_id)
    assert "helpdesk-bot-bug-fixed" in ticket.tags and ticket.status.value == "open"

    transition(stack, key, "81")  # reopened, then fixed again: noted each time, the customer told once
    wait_for(lambda: len(comments(Visibility.INTERNAL, f"Dev bug {key} is now")) == 2, timeout=40)
    transition(stack, key, "71", "Done")
    wait_for(lambda: len(comments(Visibility.INTERNAL, f"Dev bug {key} is now solved")) == 2, timeout=40)
    assert len(comments(Visibility.PUBLIC, "has been fixed")) == 1


def test_a_bug_closed_as_wont_fix_is_an_internal_note_only(stack: Stack) -> None:
    key_sd = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Dark mode broken", "It is too dark.")
    triaged(stack, "jira", key_sd)
    assert stack.cli("escalate-bug", key_sd).returncode == 0
    key = bugs_for(stack, "jira", key_sd)[0]["key"]
    transition(stack, key, "71", "Won't Do")
    jira = stack.desk("jira")

    def noted() -> bool:
        return any(
            f"Dev bug {key} is now solved (resolution Won't Do)" in c.body for c in jira.get_ticket(key_sd).comments
        )

    wait_for(noted, timeout=40)
    ticket = jira.get_ticket(key_sd)
    assert not [c for c in ticket.comments if c.visibility is Visibility.PUBLIC and "has been fixed" in c.body]
    assert "helpdesk-bot-bug-fixed" not in ticket.tags
