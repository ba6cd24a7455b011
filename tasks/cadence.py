"""When each periodic runbook last ran on each desk, so beat's sweeps honour every runbook's own `Schedule.every`.

Beat starts a sweep of each desk every `HELPDESK_BOT_SWEEP_SECONDS`; a runbook due every 15 minutes (pings) and one
due hourly (the follow-up ladder) then run at their own pace within those sweeps: a sweep takes a runbook only once
`every` has passed since that runbook's last run on that desk, and skips it otherwise. So beat's interval is the
floor of every cadence (a runbook due more often than beat sweeps runs at each sweep).

The last run is held in Redis and claimed atomically (one script compares and sets), so two overlapping sweeps —
two beat ticks, or a slow sweep still running when the next begins — never both take the same runbook. A run that
fails gives its claim back, so the task's retry runs the runbook instead of waiting a whole period. Times are the
sweep's `now` (what `--at` sets), never the process clock, so the cadence is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

KEEP_SECONDS = 30 * 86400
"""A claim outlives any cadence; a runbook removed from the registry leaves its key to expire."""

_CLAIM = """
local last = redis.call('get', KEYS[1]) or ''
if last ~= '' and tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then return {0, last} end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[3])
return {1, last}
"""
"""Take the runbook's turn at ARGV[1] (epoch seconds) unless its last run is less than ARGV[2] seconds before;
returns {taken, the last run before ('' for none)}."""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    if ARGV[2] == '' then redis.call('del', KEYS[1]) else redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
end
"""
"""Give a claim back (restore the run before it), unless another sweep has claimed since."""


@dataclass(frozen=True)
class Turn:
    """The outcome of a claim: `taken` (this sweep runs the runbook), and its last run before (None: never)."""

    taken: bool
    last: datetime | None
    stamp: str


class Cadence:
    """The last run of each (desk, periodic runbook), claimed by the sweep that runs it."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    def _key(self, desk: str, runbook: str) -> str:
        return f"{self.prefix}sweep-last:{desk}:{runbook}"

    def claim(self, desk: str, runbook: str, every: timedelta, now: datetime) -> Turn:
        """Take the runbook's turn at `now` when `every` has passed since its last run on `desk`."""
        stamp = repr(now.timestamp())
        taken, last = self._claim(keys=[self._key(desk, runbook)], args=[stamp, every.total_seconds(), KEEP_SECONDS])
        text = last.decode() if isinstance(last, bytes) else str(last)
        return Turn(bool(taken), datetime.fromtimestamp(float(text), UTC) if text else None, stamp)

    def release(self, desk: str, runbook: str, turn: Turn) -> None:
        """Undo a turn whose run failed: back to the run before it (unless another sweep claimed since)."""
        before = repr(turn.last.timestamp()) if turn.last else ""
        self._release(keys=[self._key(desk, runbook)], args=[turn.stamp, before, KEEP_SECONDS])
