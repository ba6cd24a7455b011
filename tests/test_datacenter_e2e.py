"""Triage end to end on Jira Data Center: the Data Center sandbox (REST v2 only, users by name, webhooks
in Server's shape) → intake → a real worker whose policy says `deployment: datacenter` → request triaged.

Nothing here may touch a Cloud-only endpoint: the Data Center sandbox answers those with 404, which would
fail the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.domain.events import EventKind
from bot.domain.tickets import Visibility
from bot.eventlog import State
from bot.policy.schema import DEFAULT_POLICY
from connectors.base import DeskConfig
from connectors.jira.adapter import JiraDesk
from tests.conftest import wait_for
from tests.sandbox_helpers import create_ticket, demo_options
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e


def datacenter_policy(home: Path) -> dict[str, str]:
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["desks"]["jira"]["deployment"] = "datacenter"
    path = home / "policy-datacenter.yaml"
    path.write_text(yaml.safe_dump(policy))
    return {"HELPDESK_BOT_POLICY": str(path)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e-dc")
    with running_stack(home, extra_env=datacenter_policy(home), jira_mode="datacenter") as running:
        yield running


def test_a_data_center_request_is_triaged_through_rest_v2_only(stack: Stack) -> None:
    key = create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", "Export fails", "The CSV export is empty.")

    def done() -> object:
        for rec in stack.log.records(stack.log.ticket_event_ids("jira", key)):
            if rec.event.kind is EventKind.TICKET_CREATED and rec.state in (State.DONE, State.FAILED):
                return rec
        return None

    try:
        rec = wait_for(done, timeout=40, interval=0.2)
    except AssertionError:
        pytest.fail(f"{key} was not processed; worker log:\n{stack.worker.logs()[-6000:]}")
    assert rec.state is State.DONE, rec.error
    options = demo_options("jira").model_copy(update={"deployment": "datacenter"})
    desk = JiraDesk(DeskConfig(url=stack.sandbox_url, email="bot@example.com", token="x", options=options))
    ticket = desk.get_ticket(key)
    assert ticket.assignee_id in {"agent-alice", "agent-bob", "agent-carol"}
    assert ticket.request_type and "helpdesk-bot-triaged" in ticket.tags
    public = [c.body for c in ticket.comments if c.author.id == "bot-0001" and c.visibility is Visibility.PUBLIC]
    assert len(public) == 1 and "Cathy" in public[0]
    calls = stack.sandboxes["jira"].control.calls
    assert calls and not any("/search/jql" in k or "approximate-count" in k for k in calls)
    assert all("max=2" in k or "servicedeskapi" in k or "latest" in k for k in calls), calls
