"""Two beats against one Redis send each sweep once: the second waits for the scheduler lock (celery-redbeat).

Real `helpdesk-bot beat` processes, a one-second desk sweep, and no worker: every sweep beat sends stays on
the broker's sweep queue, where the test counts them and notes when each arrived.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tasks.celery_app import SWEEP_QUEUE
from tests.conftest import BotProcesses, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.soak]  # `make soak` (CI): two real beats, 20 s of waiting on the lock

SWEEP_SECONDS = 1
WINDOW = 8.0
DESK_ENV = {
    "ZENDESK_URL": "http://127.0.0.1:9",  # enables the desk sweep; nothing is ever sent there
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_API_TOKEN": "unused",
    "ZENDESK_WEBHOOK_SECRET": "unused",
    "HELPDESK_BOT_SWEEP_SECONDS": str(SWEEP_SECONDS),
}


@pytest.fixture
def bots(redis_prefix: str, tmp_path: Path) -> Iterator[BotProcesses]:
    procs = BotProcesses(redis_prefix, tmp_path)
    procs.env.update(DESK_ENV)
    yield procs
    procs.stop()


class SweepQueue:
    """The broker's sweep queue, read without consuming: which desk sweeps were sent, and when they arrived."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}{SWEEP_QUEUE}"
        self.arrivals: list[float] = []
        self.seen = 0

    def desk_sweeps(self) -> int:
        messages = [json.loads(raw) for raw in self.client.lrange(self.key, 0, -1)]
        return sum(1 for m in messages if m["headers"]["task"] == "helpdesk.sweep_desk")

    def watch(self, seconds: float) -> None:
        """Poll for `seconds`, noting the time each new desk sweep appears."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            count = self.desk_sweeps()
            self.arrivals += [time.monotonic()] * (count - self.seen)
            self.seen = count
            time.sleep(0.05)


def test_two_beats_send_each_sweep_once(bots: BotProcesses, redis_client: redis.Redis) -> None:
    first = bots.start("beat")
    second = bots.start("beat")
    queue = SweepQueue(redis_client, bots.prefix)
    wait_for(queue.desk_sweeps, timeout=60)
    queue.seen = queue.desk_sweeps()
    queue.watch(WINDOW)

    assert first.poll() is None and second.poll() is None, bots.logs()
    sent = len(queue.arrivals)
    # One beat sends one sweep per second at most; two independent ones would send about twice that.
    assert 2 <= sent <= WINDOW / SWEEP_SECONDS + 1, f"{sent} sweeps in {WINDOW}s\n{bots.logs()}"
    gaps = [b - a for a, b in zip(queue.arrivals, queue.arrivals[1:], strict=False)]
    assert min(gaps) > SWEEP_SECONDS / 2, f"two sweeps {min(gaps):.2f}s apart: sent twice"


def test_the_waiting_beat_takes_over_when_the_active_one_stops(bots: BotProcesses, redis_client: redis.Redis) -> None:
    beats = [bots.start("beat"), bots.start("beat")]
    queue = SweepQueue(redis_client, bots.prefix)
    wait_for(queue.desk_sweeps, timeout=60)
    holders = wait_for(lambda: [i for i in (0, 1) if "Acquired lock" in _log(bots, i)], timeout=20)
    assert len(holders) == 1, bots.logs()
    holder, waiting = beats[holders[0]], 1 - holders[0]
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=20)

    queue.seen = queue.desk_sweeps()
    wait_for(lambda: "Acquired lock" in _log(bots, waiting), timeout=30)
    queue.watch(3 * SWEEP_SECONDS)
    assert queue.arrivals, f"no sweep after the first beat stopped\n{bots.logs()}"
    assert beats[waiting].poll() is None


def _log(bots: BotProcesses, index: int) -> str:
    return (bots.home / f"beat-{index}.log").read_text(errors="replace")
