"""The packaged runbooks that create something elsewhere do it once even when the worker dies half-way: the
linked dev bug (for a Zendesk ticket and a JSM request) and the feedback idea in Aha!.

As in `test_cross_desk_once.py`, the run is stopped the way a SIGKILL would stop it (an exception nothing
catches) right after the record was created and before the plan marked it done, then run again by a fresh
worker runtime, against the real sandbox over HTTP and a real Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain.tickets import TicketChanges
from connectors.sandboxes import build
from tasks import executor
from tasks.pipeline import Run, run_runbooks
from tasks.registry import named
from tasks.runtime import Runtime
from tests.conftest import ServedApp
from tests.sandbox_helpers import create_ticket
from tests.tasks.test_cross_desk_once import Killed, kill_when, runtime_for
from tests.test_intake import make_settings

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[tuple[ServedApp, Any]]:
    app, sandboxes = build(seed=True)
    served = ServedApp(app)
    yield served, sandboxes
    served.close()


def killed_after_the_create(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dies when the plan is about to record that its create landed (the create itself went through)."""
    kill_when(monkeypatch, executor.PlanStore, "save", lambda self, key, plan: any(w.result for w in plan.writes))


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_the_linked_bug_survives_a_worker_killed_after_the_bug_was_created(
    sandbox: tuple[ServedApp, Any], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, desk: str
) -> None:
    served, sandboxes = sandbox
    ticket_id = create_ticket(served.url, desk, "cathy@acme.test", "Export crashes", "1. Open Reports\n2. Export")
    run = Run(key=f"{desk}-escalate-1", now=NOW, source="escalate-bug", facts={"forced": True})
    bug = (named("linked-bug"),)
    killed_after_the_create(monkeypatch)
    with pytest.raises(Killed):
        run_runbooks(runtime_for(served.url, redis_prefix, tmp_path), desk, ticket_id, bug, run, empty="")
    monkeypatch.undo()

    run_runbooks(runtime_for(served.url, redis_prefix, tmp_path), desk, ticket_id, bug, run, empty="")
    label = f"helpdesk-bot-ref-{desk}-{ticket_id}".lower()
    jira = sandboxes["jira"].state
    bugs = [i["key"] for i in jira.issues.values() if label in i["fields"]["labels"]]
    assert len(bugs) == 1, "the retry found the bug instead of filing a second"
    notes = [c for c in _comments(sandboxes, desk, ticket_id) if bugs[0] in c and "Bug filed" in c]
    assert len(notes) == 1
    if desk == "jira":
        links = jira.issues[ticket_id]["fields"]["issuelinks"]
        assert [link["outwardIssue"]["key"] for link in links if "outwardIssue" in link] == bugs


def test_feedback_survives_a_worker_killed_between_the_idea_and_the_note(
    sandbox: tuple[ServedApp, Any], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, sandboxes = sandbox
    ticket_id = create_ticket(served.url, "zendesk", "cathy@acme.test", "Feature request: tags", "Tags on invoices.")
    runtime = runtime_for_aha(served.url, redis_prefix, tmp_path)
    desk = runtime.desk("zendesk")
    desk.apply(desk.get_ticket(ticket_id), TicketChanges(request_type="feedback"))  # as triage left it
    run = Run(key="zd-feedback-1", now=NOW, source="event")
    steps = (named("feedback"), named("feedback-reply"))
    killed_after_the_create(monkeypatch)
    with pytest.raises(Killed):
        run_runbooks(runtime, "zendesk", ticket_id, steps, run, empty="")
    monkeypatch.undo()
    tag = f"helpdesk-bot-zendesk-{ticket_id}"
    assert len([i for i in sandboxes["aha"].state.ideas.values() if tag in i["tags"]]) == 1
    assert not [c for c in _comments(sandboxes, "zendesk", ticket_id) if "Feedback recorded" in c]

    decision = run_runbooks(
        runtime_for_aha(served.url, redis_prefix, tmp_path), "zendesk", ticket_id, steps, run, empty=""
    )
    ideas = [i for i in sandboxes["aha"].state.ideas.values() if tag in i["tags"]]
    assert len(ideas) == 1, "the retry found the idea instead of creating a second"
    number = ideas[0]["reference_num"]
    comments = _comments(sandboxes, "zendesk", ticket_id)
    assert len([c for c in comments if f"Feedback recorded in Aha! as {number}" in c]) == 1
    assert len([c for c in comments if f"as idea {number}" in c]) == 1
    assert [r.runbook for r in decision.runbooks] == ["feedback", "feedback-reply"]


def runtime_for_aha(url: str, prefix: str, home: Path) -> Runtime:
    """A fresh worker's runtime with Aha! at the sandbox too."""
    runtime = runtime_for(url, prefix, home)
    runtime.settings = make_settings(prefix, home, zendesk_url=url, jira_url=url, aha_url=url, aha_api_key="k")
    return runtime


def _comments(sandboxes: Any, desk: str, ticket_id: str) -> list[str]:
    if desk == "zendesk":
        return [str(c.get("body", "")) for c in sandboxes["zendesk"].state.comments.get(int(ticket_id), [])]
    return [str(c["body"]) for c in sandboxes["jira"].state.comments.get(ticket_id, [])]
