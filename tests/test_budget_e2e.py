"""The desk's API budget held across real worker processes, measured where it matters: at the desk.

Two `helpdesk-bot worker` processes (two threads each) triage a burst of new tickets while `helpdesk-bot sweep`
runs again and again beside them (a real sweep of the periodic runbooks, as beat starts it, logged in as another
agent of the desk so that its calls can be told apart); they share only Redis. The sandbox records every request
it receives (time, route, login), so the calls per minute are counted at the desk.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from bot.eventlog import State
from bot.policy.schema import ApiBudget
from connectors.sandbox_kit import Arrival, SandboxControl
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.sandbox_helpers import create_ticket
from tests.stack import Stack, policy_with_budgets, running_stack

pytestmark = pytest.mark.e2e

ZENDESK_BUDGET = ApiBudget(per_minute=60, sweep_share=0.5, max_wait_seconds=1)
JIRA_BUDGET = ApiBudget(per_minute=1000, max_wait_seconds=10)
BOT, SWEEPER = "bot@example.com", "sam@example.com"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("budget")
    policy = policy_with_budgets(home, {"zendesk": ZENDESK_BUDGET.model_dump(), "jira": JIRA_BUDGET.model_dump()})
    with running_stack(home, workers=2, concurrency=2, extra_env=policy) as running:
        logs = [Path(home) / f"worker-{n}.log" for n in range(2)]
        try:  # both workers consuming before the burst, however slowly a busy machine starts them
            wait_for(lambda: all(" ready." in log.read_text(errors="replace") for log in logs), timeout=60)
        except AssertionError:
            pytest.fail(f"the workers did not start; logs:\n{running.worker.logs()[-6000:]}")
        yield running


def by(arrivals: list[Arrival], login: str) -> list[Arrival]:
    return [a for a in arrivals if (a.login or "").removesuffix("/token") == login]


def busiest_minute(arrivals: list[Arrival]) -> int:
    """The most requests the desk received in any 60-second window."""
    times = sorted(a.at for a in arrivals)
    return max((sum(1 for t in times[i:] if t - start < 60) for i, start in enumerate(times)), default=0)


def failed_events(stack: Stack) -> list[str]:
    records = stack.log.records(stack.log.ids_between())
    return [f"{r.event.id}: {r.error}" for r in records if r.state is State.FAILED]


@contextmanager
def sweeping(stack: Stack, desk: str) -> Iterator[list[int]]:
    """`helpdesk-bot sweep --desk DESK` run back to back in a thread until the block ends; yields the exit codes.
    A sweep that finds the budget spent for longer than it may wait stops with a one-line error (exit 2), and
    the next one starts: as beat's task would be retried."""
    stop = threading.Event()
    codes: list[int] = []
    env = {**stack.worker.env, **stack.env, f"{desk.upper()}_EMAIL": SWEEPER}
    command = [sys.executable, "-m", "bot.cli", "sweep", "--desk", desk, "--json"]

    def loop() -> None:
        while not stop.is_set():
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode in (0, 2), done.stderr[-2000:]
            codes.append(done.returncode)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield codes
    finally:
        stop.set()
        thread.join(timeout=130)


def test_workers_and_a_sweep_together_keep_to_the_desk_budget(stack: Stack) -> None:
    control = stack.sandboxes["zendesk"].control
    with sweeping(stack, "zendesk") as sweeps_run:
        wait_for(lambda: by(list(control.arrivals), SWEEPER), timeout=60, interval=0.2)  # the sweep is under way
        for n in range(45):  # one read and one write per new ticket: far more than 60 calls in all
            create_ticket(
                stack.sandbox_url, "zendesk", "cathy@acme.test", f"Export fails #{n}", "The CSV export is empty."
            )
        _wait_and_linger(control)
    assert sweeps_run  # the sweep ran (and ran again) beside the workers

    arrivals = list(control.arrivals)
    workers, sweeps = by(arrivals, BOT), by(arrivals, SWEEPER)
    assert busiest_minute(workers + sweeps) <= ZENDESK_BUDGET.per_minute, (len(workers), len(sweeps))
    assert 0 < busiest_minute(sweeps) <= ZENDESK_BUDGET.per_minute * ZENDESK_BUDGET.sweep_share
    assert len(workers) >= ZENDESK_BUDGET.per_minute * (1 - ZENDESK_BUDGET.sweep_share)  # events keep their part
    assert not any(a.refused for a in arrivals)  # the desk itself never had to say 429
    held = redis.Redis.from_url(TEST_REDIS_URL).hget(f"{stack.worker.prefix}metrics:desk_calls:zendesk", "held")
    assert held and int(held) > 0  # tasks were held back and will retry, not failed
    assert not failed_events(stack)


def _wait_and_linger(control: SandboxControl) -> None:
    """Until the desk has received a minute's budget of calls, then a few seconds more in which every worker and
    the sweep could (wrongly) go on calling."""

    def spent() -> int:
        return len(by(list(control.arrivals), BOT) + by(list(control.arrivals), SWEEPER))

    wait_for(lambda: spent() >= ZENDESK_BUDGET.per_minute, timeout=60, interval=0.2)
    time.sleep(3)


def test_a_429_pauses_every_worker_until_retry_after(stack: Stack) -> None:
    control = stack.sandboxes["jira"].control
    control.latency = 0.1  # each call takes a while, so the burst keeps all four worker threads busy
    retry_after = 4.0
    with sweeping(stack, "jira"):
        wait_for(lambda: by(list(control.arrivals), SWEEPER), timeout=60, interval=0.2)  # the sweep is under way
        tickets = [
            create_ticket(stack.sandbox_url, "jira", "cathy@acme.test", f"VPN drops #{n}", "It disconnects hourly.")
            for n in range(16)
        ]
        control.fail_next(1, 429, retry_after=retry_after)  # the next call, a worker's or the sweep's, is refused

        def all_done() -> bool:
            done = 0
            for key in tickets:
                records = stack.log.records(stack.log.ticket_event_ids("jira", key))
                done += any(r.state is State.DONE for r in records)
            return done == len(tickets)

        try:
            wait_for(all_done, timeout=60, interval=0.2)
        except AssertionError:
            pytest.fail(f"the burst was not processed; worker log:\n{stack.worker.logs()[-6000:]}")
    arrivals = list(control.arrivals)
    calls = by(arrivals, BOT) + by(arrivals, SWEEPER)
    refused = [a for a in calls if a.refused == 429]
    assert len(refused) == 1
    t0 = refused[0].at
    in_flight = 1.0  # calls other workers had sent before the 429 came back may still arrive just after it
    during = [a for a in calls if t0 + in_flight < a.at < t0 + retry_after]
    after = [a for a in calls if a.at >= t0 + retry_after]
    assert not during, [(round(a.at - t0, 2), a.key, a.login) for a in during]  # no worker, no sweep
    assert len(after) >= 8  # work was left when the desk said 429: it waited, then went on
    assert not failed_events(stack)
