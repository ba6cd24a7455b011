"""Each periodic runbook runs at its own `Schedule.every` in beat's sweeps: the ping runbook every 15 minutes,
the follow-up ladder hourly, however often beat sweeps the desk; two overlapping sweeps never both take a
runbook's turn; a sweep that fails gives its turn back. Against the sandbox over HTTP and a real Redis, with
`now` passed to each sweep (no sleeping)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.errors import Unavailable
from bot.domain.tickets import NewComment, Status, TicketChanges, Visibility
from connectors.sandboxes import build
from tasks import registry
from tasks.runtime import Runtime
from tasks.sweeps import sweep_desk
from tests.conftest import ServedApp
from tests.sandbox_helpers import create_ticket
from tests.tasks.test_followup_race import runtime_for

DESKS = ("zendesk", "jira")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    app, _ = build(seed=True)
    served = ServedApp(app)
    yield served.url
    served.close()


def ran(runtime: Runtime, desk: str, at: datetime) -> set[str]:
    """The runbooks beat's sweep of `desk` ran at `at` (each looks at the open and the pending ticket)."""
    return {row.runbook for row in sweep_desk(runtime, desk, at, dry_run=False, due_only=True)}


@pytest.fixture
def runtime(sandbox: str, redis_prefix: str, tmp_path: Path) -> Runtime:
    runtime = runtime_for(sandbox, redis_prefix, tmp_path)
    for desk in DESKS:  # an open ticket (pings) and a pending one (the follow-up ladder) on each desk
        create_ticket(sandbox, desk, "cathy@acme.test", "Export", "The CSV export is empty.")
        waiting = create_ticket(sandbox, desk, "gary@globex.test", "Import", "The import stops.")
        adapter = runtime.desk(desk)
        asked = NewComment("Which file did you import?", Visibility.PUBLIC)
        adapter.apply(adapter.get_ticket(waiting), TicketChanges(status=Status.PENDING, comment=asked))
    return runtime


def cadence_of(name: str) -> timedelta:
    schedule = registry.named(name).schedule
    assert schedule is not None
    return schedule.every


@pytest.mark.parametrize("desk", DESKS)
def test_each_periodic_runbook_runs_at_its_own_cadence(runtime: Runtime, desk: str) -> None:
    ping, ladder = cadence_of("ping"), cadence_of("followup-ladder")
    assert ping < ladder  # 15 minutes and one hour
    start = datetime.now(UTC) + timedelta(days=1)  # the pending ticket has been quiet long enough for the ladder
    assert {"ping", "followup-ladder"} <= ran(runtime, desk, start)
    assert ran(runtime, desk, start + timedelta(minutes=5)) == set()  # beat sweeps again: nothing is due
    later = ran(runtime, desk, start + ping)
    assert "ping" in later and "followup-ladder" not in later
    assert ran(runtime, desk, start + ping + timedelta(minutes=1)) == set()
    assert {"ping", "followup-ladder"} <= ran(runtime, desk, start + ladder)

    # An operator's `helpdesk-bot sweep` runs every runbook whenever asked, and leaves beat's cadence alone.
    asked = {row.runbook for row in sweep_desk(runtime, desk, start + ladder, dry_run=False)}
    assert {"ping", "followup-ladder"} <= asked
    assert ran(runtime, desk, start + ladder + timedelta(minutes=1)) == set()


def test_two_overlapping_sweeps_take_each_runbook_once(runtime: Runtime) -> None:
    at = datetime.now(UTC) + timedelta(days=1)
    found: list[set[str]] = []
    both = [threading.Thread(target=lambda: found.append(ran(runtime, "zendesk", at))) for _ in range(2)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(timeout=60)
    assert len(found) == 2
    first, second = found
    assert not first & second and {"ping", "followup-ladder"} <= first | second


def test_a_failed_sweep_gives_its_turn_back(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime.now(UTC) + timedelta(days=1)
    adapter = runtime.desk("zendesk")
    original = type(adapter).search

    def down(*args: object, **kwargs: object) -> object:
        raise Unavailable("the desk is down")

    monkeypatch.setattr(type(adapter), "search", down)
    with pytest.raises(Unavailable):
        ran(runtime, "zendesk", at)
    monkeypatch.setattr(type(adapter), "search", original)
    assert "ping" in ran(runtime, "zendesk", at + timedelta(minutes=1))  # the retry runs it, a period early
