"""One API budget per desk, held in Redis and shared by every worker process, thread and sweep.

A desk's rate limit is per account, not per process: two workers that each keep to the limit still
exceed it together, and a 429 seen by one task says the whole account must wait. So every HTTP call to a
desk passes `DeskBudget.before_call` (through the transport in `connectors/base.py`) and:

1. waits while the desk is paused: a 429 (or 503) with `Retry-After` seen by any worker stores the resume
   time under `<prefix>desk-pause:<desk>`, and no worker calls that desk again before it;
2. takes one slot of the desk's moving one-minute window (the `limits` library's moving window on the
   bot's Redis, under the bot's key prefix). Event-driven calls may fill the window up to `per_minute`;
   calls made while sweeping (`sweep_calls()`) only while the window is less than `sweep_share` full, so
   sweeps take what event traffic leaves and stop first when it is high.

When the budget is spent the call waits, at most `max_wait_seconds` in all; if more is needed it raises
`RateLimited(retry_after)` without calling the desk, and the base task (`tasks/base.py`) retries the task
after that delay, freeing the worker meanwhile. Retrying is safe: a task's writes resume from its stored plan.

The moving window stamps entries with each process's wall clock, so workers on several machines need
synchronised clocks (NTP), as the pause's resume time does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import redis
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot.domain.errors import RateLimited
from bot.metrics import count_desk_call
from connectors.http import retry_after_seconds

if TYPE_CHECKING:
    from bot.policy.schema import ApiBudget

_sweeping: ContextVar[bool] = ContextVar("helpdesk_bot_sweeping", default=False)

_KEEP_LATER_RESUME = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
    redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
"""
"""Store a resume time unless a later one is already stored (two 429s never shorten a pause)."""


@contextmanager
def sweep_calls() -> Iterator[None]:
    """Desk calls made inside this block count as sweep traffic: they only use the sweeps' share."""
    token = _sweeping.set(True)
    try:
        yield
    finally:
        _sweeping.reset(token)


class PrefixedRedisStorage(RedisStorage):
    """`limits`' Redis storage on the bot's own Redis client, with keys under the bot's key prefix.

    The client is reused as is (its pool already speaks `redis://`, `rediss://` and the embedded Redis's
    `unix://` socket). `limits` would join its prefix with a `:`; the bot's prefix already ends with
    its separator (`hb:`), so it is prepended unchanged, like every other key the bot writes.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        super().__init__("redis://", connection_pool=client.connection_pool)
        self.key_prefix = prefix

    def prefixed_key(self, key: str) -> str:
        return f"{self.key_prefix}{key}"


class DeskBudget:
    """The `CallGate` of one desk: the shared pause and moving-window budget described above."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        desk: str,
        budget: ApiBudget,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.prefix, self.desk, self.budget = client, prefix, desk, budget
        self.clock, self.sleep = clock, sleep
        self.limiter = MovingWindowRateLimiter(PrefixedRedisStorage(client, prefix))
        self.window = RateLimitItemPerMinute(budget.per_minute, namespace="api-budget")
        self.sweep_cap = int(budget.per_minute * budget.sweep_share)
        self.pause_key = f"{prefix}desk-pause:{desk}"
        self._keep_later = client.register_script(_KEEP_LATER_RESUME)
        self.calls = 0
        """Calls this process has sent to the desk (progress reports count a sweep's share by difference)."""

    def before_call(self) -> None:
        deadline = self.clock() + self.budget.max_wait_seconds
        while True:
            paused = self.paused_for()
            wait = paused or self._take_slot()
            if wait <= 0:
                return
            if self.clock() + wait > deadline:
                count_desk_call(self.client, self.prefix, self.desk, "held")
                reason = "paused after a 429" if paused else "API budget spent"
                raise RateLimited(wait, f"{self.desk}: {reason}")
            self.sleep(wait)

    def after_call(self, status: int, headers: Mapping[str, str]) -> None:
        self.calls += 1
        limited = status == 429 or (status == 503 and any(k.lower() == "retry-after" for k in headers))
        count_desk_call(self.client, self.prefix, self.desk, "rate_limited" if limited else "sent")
        if limited:
            self.pause(retry_after_seconds(headers))

    def left(self) -> int:
        """Calls still free in the desk's window for the current traffic (a sweep's share when sweeping)."""
        stats = self.limiter.get_window_stats(self.window, self.desk)
        used = self.window.amount - stats.remaining
        cap = self.sweep_cap if _sweeping.get() else self.window.amount
        return max(0, cap - used)

    def pause(self, seconds: float) -> None:
        """Hold every worker's calls to this desk for `seconds` from now."""
        if seconds <= 0:
            return
        resume = self.clock() + seconds
        self._keep_later(keys=[self.pause_key], args=[repr(resume), max(1, int(seconds * 1000))])

    def paused_for(self) -> float:
        """Seconds until the desk may be called again (0 when it is not paused)."""
        raw = self.client.get(self.pause_key)
        return max(0.0, float(raw) - self.clock()) if raw else 0.0

    def _take_slot(self) -> float:
        """0 when a slot was taken; else the seconds until the window's oldest call leaves it.

        A sweep waits while the window is `sweep_share` full; the check and the take are two steps, so
        concurrent sweeps may overshoot their share by a call each, never the window itself.
        """
        if _sweeping.get():
            stats = self.limiter.get_window_stats(self.window, self.desk)
            if self.window.amount - stats.remaining >= self.sweep_cap:
                return max(0.01, stats.reset_time - self.clock())
        if self.limiter.hit(self.window, self.desk):
            return 0.0
        return max(0.01, self.limiter.get_window_stats(self.window, self.desk).reset_time - self.clock())
