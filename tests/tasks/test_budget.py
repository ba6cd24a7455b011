"""The per-desk API budget in Redis: shared by every process, sweeps after events, a 429 pauses everyone.

Several `DeskBudget` (or adapter) instances on one Redis prefix stand for several worker processes: they
share nothing but Redis, exactly like real workers. No test sleeps: a spent budget answers at once with
`RateLimited(retry_after)` when `max_wait_seconds` is 0, and waits are observed through an injected clock.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from bot import embedded_redis
from bot.domain.errors import RateLimited, Unavailable
from bot.metrics import RedisCollector
from bot.policy.schema import ApiBudget, Policy
from connectors.base import DeskConfig, Helpdesk
from connectors.sandbox_kit import Sandbox
from connectors.sandboxes import build
from tasks.base import HelpdeskTask
from tasks.budget import DeskBudget, sweep_calls
from tests.conftest import TEST_REDIS_URL, ServedApp


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    # Not decoding, like the workers' own client (bot/redis_conn.py).
    conn = redis.Redis.from_url(TEST_REDIS_URL)
    yield conn
    conn.close()


def budget(client: redis.Redis, prefix: str, per_minute: int, sweep_share: float = 0.5, **kw: object) -> DeskBudget:
    settings = ApiBudget(per_minute=per_minute, sweep_share=sweep_share, max_wait_seconds=0)
    return DeskBudget(client, prefix, "zendesk", settings, **kw)  # type: ignore[arg-type]


def test_the_window_is_shared_by_every_process_and_kept_under_the_bot_prefix(
    client: redis.Redis, redis_prefix: str
) -> None:
    worker_a, worker_b = budget(client, redis_prefix, 3), budget(client, redis_prefix, 3)
    worker_a.before_call()
    worker_b.before_call()
    worker_a.before_call()
    with pytest.raises(RateLimited) as spent:
        worker_b.before_call()
    assert 55 < spent.value.retry_after <= 60  # until the oldest of the three calls leaves the window
    assert "API budget spent" in str(spent.value)
    keys = [k.decode() for k in client.scan_iter(match=f"{redis_prefix}*")]
    assert any(k.startswith(f"{redis_prefix}api-budget/zendesk") for k in keys), keys
    assert client.hgetall(f"{redis_prefix}metrics:desk_calls:zendesk") == {b"held": b"1"}


def test_the_embedded_redis_unix_socket_url_works_too() -> None:
    """`up` without REDIS_URL runs Redis on a unix socket (`unix://...`): the budget uses that client as is."""
    home = Path(tempfile.mkdtemp(prefix="hb-budget-"))  # short: a socket path is limited to ~100 bytes
    proc = embedded_redis.start(home, home / "redis.sock")
    client = redis.Redis.from_url(f"unix://{home / 'redis.sock'}")
    try:
        desk = DeskBudget(client, "hb:", "jira", ApiBudget(per_minute=2, max_wait_seconds=0))
        desk.before_call()
        desk.before_call()
        with pytest.raises(RateLimited):
            desk.before_call()
        keys = sorted(k.decode() for k in client.keys("*"))
        assert keys and all(k.startswith("hb:") for k in keys), keys
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def test_sweeps_take_only_their_share_and_yield_to_event_traffic(client: redis.Redis, redis_prefix: str) -> None:
    desk = budget(client, redis_prefix, 4, sweep_share=0.5)
    with sweep_calls():
        desk.before_call()
        desk.before_call()
        with pytest.raises(RateLimited):
            desk.before_call()  # half the window is the sweeps' ceiling
    desk.before_call()
    desk.before_call()  # events still have the other half
    with pytest.raises(RateLimited):
        desk.before_call()

    busy = budget(client, redis_prefix + "busy:", 4, sweep_share=0.5)
    busy.before_call()
    busy.before_call()  # event traffic alone fills the sweeps' share: a sweep waits
    with sweep_calls(), pytest.raises(RateLimited):
        busy.before_call()


class FakeTime:
    """Wall-clock time that moves only when the budget sleeps."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_pauses_every_worker_until_retry_after(client: redis.Redis, redis_prefix: str) -> None:
    t = FakeTime()
    hit = budget(client, redis_prefix, 100, clock=t.clock, sleep=t.sleep)
    other = budget(client, redis_prefix, 100, clock=t.clock, sleep=t.sleep)
    hit.after_call(429, {"Retry-After": "30"})
    hit.after_call(429, {"retry-after": "2"})  # a shorter pause never cuts a longer one short
    with pytest.raises(RateLimited) as paused:
        other.before_call()
    assert paused.value.retry_after == pytest.approx(30, abs=0.01)
    assert "paused after a 429" in str(paused.value)

    patient = DeskBudget(
        client, redis_prefix, "zendesk", ApiBudget(per_minute=100, max_wait_seconds=40), clock=t.clock, sleep=t.sleep
    )
    patient.before_call()  # waits the pause out, then goes
    assert sum(t.slept) == pytest.approx(30, abs=0.01)
    counts = client.hgetall(f"{redis_prefix}metrics:desk_calls:zendesk")
    assert counts == {b"rate_limited": b"2", b"held": b"1"}

    families = {f.name: f for f in RedisCollector(client, redis_prefix, ("zendesk",)).collect()}
    samples = {s.labels["outcome"]: s.value for s in families["helpdesk_bot_desk_calls"].samples if "_total" in s.name}
    assert samples == {"sent": 0.0, "rate_limited": 2.0, "held": 1.0}


class RetryScheduled(Exception):
    pass


def test_a_task_held_by_the_budget_is_retried_beyond_the_failure_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog bigger than the budget makes tasks wait many times: that must not turn them into failures."""
    scheduled: list[dict[str, object]] = []

    def retry(self: HelpdeskTask, exc: BaseException, countdown: float, max_retries: int | None = None) -> Exception:
        scheduled.append({"exc": type(exc).__name__, "countdown": countdown, "max_retries": max_retries})
        return RetryScheduled()  # instead of publishing the retry to a broker

    monkeypatch.setattr(HelpdeskTask, "retry", retry)
    celery = Celery("budget-test")

    @celery.task(base=HelpdeskTask, bind=True)
    def spent(self: HelpdeskTask) -> None:
        raise RateLimited(30, "zendesk: API budget spent")

    @celery.task(base=HelpdeskTask, bind=True)
    def down(self: HelpdeskTask) -> None:
        raise Unavailable("zendesk: HTTP 503")

    for task in (spent, down):
        with pytest.raises(RetryScheduled):
            task()
    assert scheduled[0]["max_retries"] == HelpdeskTask.rate_limited_retries > HelpdeskTask.max_retries
    assert 30 <= float(scheduled[0]["countdown"]) <= 31  # type: ignore[arg-type]
    assert scheduled[1]["max_retries"] is None  # real failures keep the task's own limit


def test_the_policy_default_is_well_below_the_smallest_plan() -> None:
    default = Policy().desk("zendesk").api_budget
    assert default.per_minute <= 200 // 2 and default.sweep_share == 0.5  # Zendesk Suite Team: 200/min


# --- Through the adapters: every call of the vendor clients passes the gate --------------------------


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[dict[str, Sandbox], str]]:
    app, boxes = build(seed=True)
    served = ServedApp(app)
    yield boxes, served.url
    served.close()


def adapter(url: str, desk: str, gate: DeskBudget) -> Helpdesk:
    module = importlib.import_module(f"connectors.{desk}.adapter")
    return module.build(DeskConfig(url=url, email="bot@example.com", token="x", gate=gate))  # type: ignore[no-any-return]


def bot_calls(sandbox: Sandbox) -> int:
    return sum(1 for a in sandbox.control.arrivals if (a.login or "").removesuffix("/token") == "bot@example.com")


@pytest.mark.parametrize(("desk", "ticket"), [("zendesk", "1"), ("jira", "SD-1")])
def test_adapters_stop_calling_when_the_budget_is_spent(
    sandboxes: tuple[dict[str, Sandbox], str], client: redis.Redis, redis_prefix: str, desk: str, ticket: str
) -> None:
    boxes, url = sandboxes
    boxes[desk].control.reset()
    gate = DeskBudget(client, redis_prefix, desk, ApiBudget(per_minute=4, max_wait_seconds=0))
    worker_a, worker_b = adapter(url, desk, gate), adapter(url, desk, gate)
    worker_a.get_ticket(ticket)  # zenpy / jira client reads and our own JSON calls alike
    with pytest.raises(RateLimited):
        for _ in range(5):
            worker_b.get_ticket(ticket)
    assert bot_calls(boxes[desk]) == 4


@pytest.mark.parametrize(("desk", "ticket"), [("zendesk", "1"), ("jira", "SD-1")])
def test_a_429_from_the_desk_pauses_the_other_workers(
    sandboxes: tuple[dict[str, Sandbox], str], client: redis.Redis, redis_prefix: str, desk: str, ticket: str
) -> None:
    boxes, url = sandboxes
    control = boxes[desk].control
    control.reset()
    settings = ApiBudget(per_minute=100, max_wait_seconds=0)
    worker_a = adapter(url, desk, DeskBudget(client, redis_prefix, desk, settings))
    worker_b = adapter(url, desk, DeskBudget(client, redis_prefix, desk, settings))
    control.fail_next(1, 429, retry_after=20)
    with pytest.raises(RateLimited) as desk_said:
        worker_a.get_ticket(ticket)
    assert desk_said.value.retry_after == 20
    with pytest.raises(RateLimited) as paused:
        worker_b.get_ticket(ticket)
    assert 19 < paused.value.retry_after <= 20
    assert [a.refused for a in control.arrivals] == [429]  # worker B never reached the desk
