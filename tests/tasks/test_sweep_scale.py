"""Sweeps at desk scale, against the Zendesk sandbox over HTTP and a real Redis.

Strikes and resolves whose step the desk's follow-up field records are decided on the search result alone and
written in `update_many` jobs (no ticket is read); a ticket that changed after the search is refused by its
`safe_update` and decided again on a read; a job's per-ticket failure is reported; a sweep cut short resumes
from its stored cursor without sending anything twice or skipping a ticket; progress is reported as it goes.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from celery.exceptions import SoftTimeLimitExceeded

from bot.domain.errors import RateLimited
from bot.eventlog import EventLog
from bot.locks import ticket_lock
from bot.policy.followup import marker
from bot.policy.schema import DEFAULT_POLICY, WEEKDAYS
from connectors.sandboxes import build
from connectors.zendesk import adapter as zendesk_adapter
from connectors.zendesk.sandbox import FOLLOWUP_FIELD, ZendeskSandbox
from tasks import sweeps
from tasks.budget import sweep_calls
from tasks.bulk_writes import SAVE_CHUNK
from tasks.executor import Plan, PlanStore
from tasks.runtime import Runtime
from tasks.sweeps import SweepProgress, sweep_desk
from tests.conftest import TEST_REDIS_URL, ServedApp
from tests.sandbox_helpers import customer_reply
from tests.test_intake import make_settings

DECIDED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
"""A Monday: the step already on the tickets was decided as of then."""
NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
"""A week later: every next step is due."""
CATHY = 301


@pytest.fixture
def desk() -> Iterator[tuple[str, ZendeskSandbox]]:
    app, fakes = build(seed=True)
    served = ServedApp(app)
    yield served.url, fakes["zendesk"]  # type: ignore[misc]
    served.close()


def runtime_for(
    url: str, prefix: str, home: Path, per_minute: int = 100_000, *, always_open: bool = False, **budget: float
) -> Runtime:
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["pings"]["enabled"] = False  # the ladder's sweep is what is measured here
    data["escalation"]["enabled"] = False
    data["sweeps"] = {"spread": False}  # every due step goes in the one sweep measured (the spread: test_spread*)
    if always_open:  # a task sweeps as of the real clock, which may be at night: strikes wait for business hours
        data["calendar"].update(workdays=list(WEEKDAYS), hours="00:00-24:00", country=None)
    data["desks"]["zendesk"]["api_budget"] = {"per_minute": per_minute, **budget}
    policy = home / "policy.yaml"
    policy.write_text(yaml.safe_dump(data))
    settings = make_settings(prefix, home, zendesk_url=url, jira_url=url, helpdesk_bot_policy=policy)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    return Runtime(settings=settings, redis=client, eventlog=EventLog(client, prefix), prefix=prefix)


def seed(sandbox: ZendeskSandbox, count: int, step: int) -> list[str]:
    """`count` pending tickets whose strike `step` went out as of DECIDED (tag and field say so)."""
    out = []
    for i in range(count):
        tid = sandbox.insert_ticket(
            CATHY, f"waiting {i}", status="pending", tags=(f"helpdesk-bot-strike-{step}",), updated_at=SEEDED
        )
        record_step(sandbox, tid, f"strike-{step}", DECIDED)
        out.append(str(tid))
    return out


SEEDED = "2026-03-02T10:00:00Z"


def record_step(sandbox: ZendeskSandbox, ticket_id: int, step: str, at: datetime, greet: str | None = None) -> str:
    """The follow-up field as the bot leaves it after `step` taken as of `at`, following the customer's last
    public comment (the seeded ticket's description, unless it holds a later one); `greet`: the name its message
    greeted the customer by (None: a field from before names were kept)."""
    customer = [c for c in sandbox.state.comments[ticket_id] if c["public"] and c["author_id"] not in (1, 101)]
    value = f"Follow-up {step} sent.\n\n{marker(step, at, after=str(customer[-1]['id']), greet=greet)}"
    sandbox.set_field(ticket_id, FOLLOWUP_FIELD, value)
    return value


def public_bot_comments(sandbox: ZendeskSandbox, ticket_id: str) -> list[str]:
    return [c["body"] for c in sandbox.state.comments[int(ticket_id)] if c["public"] and c["author_id"] == 1]


def calls(sandbox: ZendeskSandbox) -> dict[str, int]:
    return dict(sandbox.control.calls)


def ladder_rows(runtime: Runtime, **kw: Any) -> list[sweeps.SweepRow]:
    return [r for r in sweep_desk(runtime, "zendesk", NOW, dry_run=False, **kw) if r.runbook == "followup-ladder"]


def test_due_strikes_are_decided_on_search_results_and_written_in_update_many_jobs(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    second = seed(sandbox, 150, 1)
    resolve = seed(sandbox, 60, 3)
    runtime.desk("zendesk")
    sandbox.control.reset()

    rows = ladder_rows(runtime)

    assert {r.ticket for r in rows if r.result.writes_sent} == set(second + resolve)
    for tid in second:
        ticket = sandbox.state.tickets[int(tid)]
        assert "helpdesk-bot-strike-2" in ticket["tags"] and "helpdesk-bot-strike-1" in ticket["tags"]
        field = next(f["value"] for f in ticket["custom_fields"] if f["id"] == FOLLOWUP_FIELD)
        assert field.startswith("Follow-up strike 2/3 sent (phone attempt")  # the step's notes, in its one update
        assert "Task for the assignee: call Cathy today" in field
        after = str(sandbox.state.comments[int(tid)][0]["id"])
        assert field.endswith(marker("strike-2", NOW, after=after, greet="Cathy"))  # kept for the next step
        assert not [c for c in sandbox.state.comments[int(tid)] if not c["public"]]  # no internal comment
        [strike] = public_bot_comments(sandbox, tid)
        assert strike.startswith("Hello Cathy,")  # the requester's name, looked up in bulk, not "there"
    for tid in resolve:
        ticket = sandbox.state.tickets[int(tid)]
        assert ticket["status"] == "solved" and "closure-user-not-responded" in ticket["tags"]
    made = calls(sandbox)
    assert not any(k.startswith("GET /api/v2/tickets/<int:tid>") for k in made)  # no ticket was read
    assert made.get("PUT /api/v2/tickets/<int:tid>.json", 0) + made.get("PUT /api/v2/tickets/<int:tid>", 0) == 0
    jobs = made["PUT /api/v2/tickets/update_many.json"]
    # one update per ticket: the customer's message, with the step's notes and marker in the follow-up field
    assert jobs == math.ceil(210 / 100)
    assert made["GET /api/v2/job_statuses/show_many.json"] == 1  # one poll for all the jobs at once
    assert made["GET /api/v2/search/export.json"] == 1


def test_a_field_that_keeps_the_greeting_needs_no_look_up_of_requesters(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    ids = seed(sandbox, 20, 1)
    for tid in ids:
        record_step(sandbox, int(tid), "strike-1", DECIDED, greet="Cat")  # the name strike 1 greeted her by
    runtime.desk("zendesk")
    sandbox.control.reset()

    rows = ladder_rows(runtime)

    assert sum(r.result.writes_sent for r in rows) == 20
    assert "GET /api/v2/users/show_many.json" not in calls(sandbox)  # names came with the search result
    assert all(public_bot_comments(sandbox, t)[0].startswith("Hello Cat,") for t in ids)


def test_a_ticket_changed_after_the_search_is_refused_and_decided_again_on_a_read(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    ids = seed(sandbox, 5, 1)
    replied = ids[2]
    zd = runtime.desk("zendesk")
    original = type(zd).submit_bulk

    def reply_first(self: Any, changes: Any, versions: Any = None) -> Any:
        answered = any(c["body"].startswith("Found it") for c in sandbox.state.comments[int(replied)])
        if replied in changes and not answered:
            customer_reply(url, "zendesk", "cathy@acme.test", replied, "Found it: Firefox 128.")
        return original(self, changes, versions)

    monkeypatch.setattr(type(zd), "submit_bulk", reply_first)
    rows = {r.ticket: r for r in ladder_rows(runtime)}

    assert public_bot_comments(sandbox, replied) == []  # no strike over the customer's reply
    assert "helpdesk-bot-strike-2" not in sandbox.state.tickets[int(replied)]["tags"]
    assert rows[replied].result.writes_sent == 0 and "waiting on support" in rows[replied].result.outcome
    assert all(len(public_bot_comments(sandbox, t)) == 1 for t in ids if t != replied)


def test_a_ticket_the_job_fails_is_reported_and_left_for_the_next_sweep(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    ids = seed(sandbox, 3, 1)
    gone = ids[1]
    zd = runtime.desk("zendesk")
    original = type(zd).submit_bulk

    def delete_first(self: Any, changes: Any, versions: Any = None) -> Any:
        sandbox.state.tickets.pop(int(gone), None)  # deleted by an agent after the search found it
        return original(self, changes, versions)

    monkeypatch.setattr(type(zd), "submit_bulk", delete_first)
    rows = {r.ticket: r for r in ladder_rows(runtime)}

    assert "not written" in rows[gone].result.outcome and rows[gone].result.writes_sent == 0
    assert all(rows[t].result.writes_sent == 1 for t in ids if t != gone)  # strike 2 with its notes in the field


@pytest.mark.parametrize("dies", ["waiting for its jobs", "right after the desk queued a job"])
def test_a_sweep_cut_short_resumes_from_its_cursor_without_resending_or_skipping(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    ids = seed(sandbox, 120, 1)
    monkeypatch.setattr(zendesk_adapter, "EXPORT_PAGE", 25)
    monkeypatch.setattr(sweeps, "BULK_BATCH", 40)
    zd = runtime.desk("zendesk")
    method = "bulk_results" if dies == "waiting for its jobs" else "submit_bulk"
    original = getattr(type(zd), method)
    seen: list[int] = []

    class WorkerLost(BaseException):
        """The worker process dying mid-sweep (not an error the sweep handles)."""

    def die_in_the_second_batch(self: Any, *args: Any) -> Any:
        out = original(self, *args)
        seen.append(1)
        if len(seen) == 2:  # the second batch's strikes are queued (or done), nothing of it marked done here
            raise WorkerLost
        return out

    monkeypatch.setattr(type(zd), method, die_in_the_second_batch)
    with pytest.raises(WorkerLost):
        ladder_rows(runtime)
    struck = [t for t in ids if public_bot_comments(sandbox, t)]
    assert 40 < len(struck) < 120  # cut short half-way
    monkeypatch.setattr(type(zd), method, original)
    sandbox.control.reset()

    ladder_rows(runtime)

    assert all(len(public_bot_comments(sandbox, t)) == 1 for t in ids)  # none twice, none skipped
    assert all("helpdesk-bot-strike-2" in sandbox.state.tickets[int(t)]["tags"] for t in ids)
    fields = [
        next(f["value"] for f in sandbox.state.tickets[int(t)]["custom_fields"] if f["id"] == FOLLOWUP_FIELD)
        for t in ids
    ]
    assert all(
        f.startswith("Follow-up strike 2/3 sent") and "strike-2 as of" in f for f in fields
    )  # the interrupted batch's too
    export_pages = calls(sandbox)["GET /api/v2/search/export.json"]
    assert export_pages < math.ceil(120 / 25)  # resumed where it stopped, not from the first page
    assert runtime.redis.get(f"{redis_prefix}sweep-cursor:zendesk:followup-ladder") is None  # pass complete


def test_progress_reports_tickets_seen_changed_calls_and_budget_left(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path, per_minute=1000)
    seed(sandbox, 30, 1)
    monkeypatch.setattr(sweeps, "PROGRESS_EVERY", 0.0)
    seen: list[dict[str, object]] = []

    def progress(p: SweepProgress) -> None:
        seen.append(p.as_meta())

    rows = list(sweep_desk(runtime, "zendesk", NOW, dry_run=False, progress=progress))

    last = seen[-1]
    assert last["seen"] == len(rows) and last["changed"] == 30
    made = sum(sandbox.control.calls.values())
    assert last["calls"] == made - 1  # all but the adapter's `me` at start-up
    assert isinstance(last["budget_left"], int) and 0 < last["budget_left"] <= 1000 - made + 1
    assert [s["seen"] for s in seen] == sorted(s["seen"] for s in seen)


@pytest.mark.filterwarnings("ignore::celery.exceptions.CDeprecationWarning")  # apply() reads the task's queue option
def test_the_celery_sweep_task_reports_progress_in_its_state(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path, always_open=True)
    seed(sandbox, 12, 1)
    monkeypatch.setattr(sweeps, "get_runtime", lambda: runtime)
    monkeypatch.setattr(sweeps, "PROGRESS_EVERY", 0.0)
    states: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        sweeps.sweep_desk_task, "update_state", lambda state, meta, **kw: states.append((state, dict(meta)))
    )

    changed = sweeps.sweep_desk_task.apply(args=("zendesk",), task_id="sweep-progress-test").get()

    assert changed == 12
    assert states and all(state == "PROGRESS" for state, _ in states)
    assert states[-1][1]["changed"] == 12 and states[-1][1]["desk"] == "zendesk"
    assert states[-1][1]["calls"] > 0


def test_a_sweep_leaves_a_runbook_another_sweep_is_running_alone(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    ids = seed(sandbox, 5, 1)
    runtime.desk("zendesk")
    sandbox.control.reset()
    with ticket_lock(runtime.redis, f"{redis_prefix}sweep-lock:zendesk:followup-ladder"):  # a long sweep runs
        assert ladder_rows(runtime) == []
    assert calls(sandbox).get("GET /api/v2/search/export.json", 0) == 0
    assert not any(public_bot_comments(sandbox, t) for t in ids)
    assert len(ladder_rows(runtime)) == 5  # once it is done, the next sweep runs it


@pytest.mark.filterwarnings("ignore::celery.exceptions.CDeprecationWarning")  # apply() reads the task's queue option
def test_a_sweep_task_at_its_time_limit_hands_over_to_a_new_task_that_resumes(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path, always_open=True)
    ids = seed(sandbox, 90, 1)
    monkeypatch.setattr(zendesk_adapter, "EXPORT_PAGE", 30)
    monkeypatch.setattr(sweeps, "BULK_BATCH", 30)
    monkeypatch.setattr(sweeps, "get_runtime", lambda: runtime)
    handed: list[tuple[Any, ...]] = []
    monkeypatch.setattr(sweeps.sweep_desk_task, "apply_async", lambda args, **kw: handed.append(args))
    real = sweeps.sweep_desk

    def until_the_soft_limit(*args: Any, **kw: Any) -> Iterator[sweeps.SweepRow]:
        for n, row in enumerate(real(*args, **kw)):
            if n == 40:
                raise SoftTimeLimitExceeded
            yield row

    monkeypatch.setattr(sweeps, "sweep_desk", until_the_soft_limit)
    sweeps.sweep_desk_task.apply(args=("zendesk",), task_id="sweep-1").get()
    assert handed == [("zendesk",)]
    assert 0 < sum(1 for t in ids if public_bot_comments(sandbox, t)) < 90

    monkeypatch.setattr(sweeps, "sweep_desk", real)
    sweeps.sweep_desk_task.apply(args=handed[0], task_id="sweep-2").get()

    assert all(len(public_bot_comments(sandbox, t)) == 1 for t in ids)


def test_a_sweep_takes_only_the_sweep_share_of_the_budget(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path, per_minute=20, sweep_share=0.5, max_wait_seconds=0)
    seed(sandbox, 5, 1)
    runtime.desk("zendesk")  # start-up call (`me`): event traffic
    for _ in range(9):  # event-driven work fills half the window
        runtime.budget("zendesk").before_call()
    sandbox.control.reset()

    with sweep_calls(), pytest.raises(RateLimited):
        ladder_rows(runtime)
    assert sum(sandbox.control.calls.values()) == 0  # held back before reaching the desk
    runtime.budget("zendesk").before_call()  # events still have the other half


def test_a_sweep_waits_out_a_desk_wide_429_pause(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path, max_wait_seconds=0)
    seed(sandbox, 5, 1)
    runtime.desk("zendesk")
    runtime.budget("zendesk").pause(30)  # another worker was answered 429 with Retry-After: 30
    sandbox.control.reset()

    with sweep_calls(), pytest.raises(RateLimited) as held:
        ladder_rows(runtime)
    assert 25 < held.value.retry_after <= 30
    assert sum(sandbox.control.calls.values()) == 0


def cli_sweep(url: str, prefix: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    runtime_for(url, prefix, home)  # writes the policy file
    base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    base = {k: v for k, v in base.items() if not k.startswith(("HELPDESK_BOT", "REDIS", "ZENDESK", "JIRA"))}
    settings = {
        "REDIS_URL": TEST_REDIS_URL,
        "HELPDESK_BOT_KEY_PREFIX": prefix,
        "HELPDESK_BOT_HOME": str(home),
        "HELPDESK_BOT_POLICY": str(home / "policy.yaml"),
        "ZENDESK_URL": url,
        "ZENDESK_EMAIL": "bot@example.com",
        "ZENDESK_API_TOKEN": "t",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "sweep", "--desk", "zendesk", "--at", NOW.isoformat()],
        env={**base, **settings, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_interactive_sweep_shows_a_progress_bar_on_a_terminal(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    seed(sandbox, 20, 1)

    done = cli_sweep(url, redis_prefix, tmp_path, TTY_COMPATIBLE="1")

    assert done.returncode == 0, done.stderr
    assert re.search(r"zendesk followup-ladder: \d+ seen, 20 changed, \d+ API calls, budget left \d+/min", done.stdout)
    assert "strike 2 sent" in done.stdout  # the table is still printed, above the bar


def test_a_sweep_whose_output_is_not_a_terminal_prints_no_bar(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path
) -> None:
    url, sandbox = desk
    seed(sandbox, 5, 1)

    done = cli_sweep(url, redis_prefix, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "strike 2 sent" in done.stdout
    assert "API calls" not in done.stdout + done.stderr and "\x1b[" not in done.stdout


def test_a_batch_of_plans_is_stored_a_bulk_job_at_a_time(
    desk: tuple[str, ZendeskSandbox], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's plans all in one Redis pipeline keep every plan's JSON and the packed command alive at once (tens
    of MiB at `BULK_BATCH` 3,000), a peak the worker's allocator then keeps: stored a bulk job's worth at a time."""
    url, sandbox = desk
    runtime = runtime_for(url, redis_prefix, tmp_path)
    second = seed(sandbox, 250, 1)
    monkeypatch.setattr(sweeps, "BULK_BATCH", 250)  # one batch of 250 plans, as 3,000 at desk scale
    stored: list[int] = []
    save_many = PlanStore.save_many

    def counted(store: PlanStore, plans: dict[str, Plan]) -> None:
        stored.append(len(plans))
        save_many(store, plans)

    monkeypatch.setattr(PlanStore, "save_many", counted)

    rows = ladder_rows(runtime)

    assert {r.ticket for r in rows if r.result.writes_sent} == set(second)
    assert all(len(public_bot_comments(sandbox, tid)) == 1 for tid in second)
    assert stored and max(stored) <= SAVE_CHUNK
