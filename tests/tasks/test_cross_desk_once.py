"""A cross-desk action is carried out exactly once even when the worker dies half-way.

A Zendesk ticket's bug is two writes on two desks: the issue in the Jira sandbox's DEV project, then an
internal note on the Zendesk ticket naming it. These tests stop the run the way a SIGKILL would (an
exception no handler catches, at a chosen write), then run it again as the retried task does, against the
real sandbox over HTTP and a real Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.eventlog import EventLog
from connectors.sandboxes import build
from tasks import executor
from tasks.pipeline import Run, run_runbooks
from tasks.runtime import Runtime
from tests.conftest import TEST_REDIS_URL, ServedApp
from tests.runbooks.demo import RUNBOOKS
from tests.sandbox_helpers import create_ticket
from tests.test_intake import make_settings

BUG = next(r for r in RUNBOOKS if r.name == "demo-bug")


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the worker catches it, nothing after it runs."""


@pytest.fixture
def sandbox() -> Iterator[tuple[ServedApp, Any]]:
    app, sandboxes = build(seed=True)
    served = ServedApp(app)
    yield served, sandboxes
    served.close()


def runtime_for(url: str, prefix: str, home: Path) -> Runtime:
    """A fresh worker process's runtime: nothing cached from the run that died."""
    settings = make_settings(prefix, home, zendesk_url=url, jira_url=url)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    return Runtime(settings=settings, redis=client, eventlog=EventLog(client, prefix), prefix=prefix)


def bug_run() -> Run:
    return Run(key="zd-event-1", now=datetime(2026, 3, 2, 10, tzinfo=UTC), source="event")


def state(sandboxes: Any, ticket_id: str) -> tuple[list[str], list[str]]:
    """(DEV issues labelled for the ticket, the ticket's "Bug filed" notes) as the desks hold them."""
    label = f"helpdesk-bot-ref-zendesk-{ticket_id}"
    issues = [i["key"] for i in sandboxes["jira"].state.issues.values() if label in i["fields"]["labels"]]
    comments = sandboxes["zendesk"].state.comments.get(int(ticket_id), [])
    notes = [c["body"] for c in comments if str(c.get("body", "")).startswith("Bug filed:")]
    return issues, notes


def kill_when(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, condition: Callable[..., bool]) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if condition(*args, **kwargs):
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


def test_killed_between_the_issue_and_the_note(
    sandbox: tuple[ServedApp, Any], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, sandboxes = sandbox
    ticket_id = create_ticket(served.url, "zendesk", "cathy@acme.test", "[bug] Export crashes", "1. Export")
    first = runtime_for(served.url, redis_prefix, tmp_path)
    zendesk = first.desk("zendesk")
    kill_when(monkeypatch, zendesk, "apply", lambda ticket, changes: changes.comment is not None)
    with pytest.raises(Killed):
        run_runbooks(first, "zendesk", ticket_id, (BUG,), bug_run(), empty="")
    issues, notes = state(sandboxes, ticket_id)
    assert len(issues) == 1 and notes == []  # died after the first write

    retried = run_runbooks(
        runtime_for(served.url, redis_prefix, tmp_path), "zendesk", ticket_id, (BUG,), bug_run(), empty=""
    )
    assert retried.runbooks[0].resumed
    issues_after, notes = state(sandboxes, ticket_id)
    assert issues_after == issues
    assert len(notes) == 1 and issues[0] in notes[0]


def test_killed_after_the_issue_was_made_but_before_it_was_marked_done(
    sandbox: tuple[ServedApp, Any], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served, sandboxes = sandbox
    ticket_id = create_ticket(served.url, "zendesk", "cathy@acme.test", "[bug] Import hangs", "It hangs.")
    first = runtime_for(served.url, redis_prefix, tmp_path)
    kill_when(monkeypatch, executor.PlanStore, "save", lambda self, key, plan: any(w.result for w in plan.writes))
    with pytest.raises(Killed):
        run_runbooks(first, "zendesk", ticket_id, (BUG,), bug_run(), empty="")
    assert len(state(sandboxes, ticket_id)[0]) == 1
    monkeypatch.undo()

    run_runbooks(runtime_for(served.url, redis_prefix, tmp_path), "zendesk", ticket_id, (BUG,), bug_run(), empty="")
    issues, notes = state(sandboxes, ticket_id)
    assert len(issues) == 1, "the retry found the issue instead of creating a second"
    assert len(notes) == 1 and issues[0] in notes[0]
