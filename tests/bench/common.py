"""Shared pieces of the benchmark scripts: processes, ports, percentiles, tables, Redis cleanup, RSS."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import redis
import requests

from tests.conftest import wait_for as suite_wait_for

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = (
    os.environ.get("HELPDESK_BOT_BENCH_REDIS_URL")
    or os.environ.get("HELPDESK_BOT_TEST_REDIS_URL")  # the smoke test runs on the suite's own Redis
    or "redis://127.0.0.1:6379/11"
)
SECRET = "bench-webhook-secret"
BOT_CLI = [sys.executable, "-m", "bot.cli"]


class BenchError(RuntimeError):
    """A benchmark cannot run here; the message says what is missing and how to get it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_prefix() -> str:
    """A Redis key prefix unique to one benchmark run, so cleanup touches only what the run wrote."""
    return f"bench-{uuid.uuid4().hex[:10]}:"


def cleanup_prefix(prefix: str, url: str = REDIS_URL) -> int:
    client = redis.Redis.from_url(url)
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=prefix + "*", count=2000):
        batch.append(key)
        if len(batch) >= 2000:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    client.close()
    return deleted


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; 0.0 for no values (a phase that sent nothing)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """The test suite's `wait_for`, failing with a benchmark error that names what was awaited."""
    try:
        return suite_wait_for(predicate, timeout=timeout, interval=interval)
    except AssertionError as exc:
        raise BenchError(f"timed out after {timeout:g}s waiting for {what}") from exc


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


class Proc:
    """A child process with its output in a log file, stopped with `stop_signal` (then SIGKILL) on exit.

    Measuring is over when a benchmark stops its processes, so they get their quick-exit signal
    (gunicorn: SIGINT, Celery: SIGQUIT) rather than a graceful drain that only adds seconds.
    """

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], logdir: Path, stop_signal: int = signal.SIGTERM
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.log_path = logdir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def signal_stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.signal_stop()
            try:
                self.popen.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Starter(Protocol):
    def __call__(self, name: str, argv: list[str], env: dict[str, str], stop_signal: int = ...) -> Proc: ...


@contextmanager
def processes(logdir: Path) -> Iterator[Starter]:
    """Start processes through the yielded function; all are stopped together when the block ends."""
    started: list[Proc] = []

    def start(name: str, argv: list[str], env: dict[str, str], stop_signal: int = signal.SIGTERM) -> Proc:
        proc = Proc(name, argv, env, logdir, stop_signal)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.signal_stop()
        for proc in started:
            proc.stop()


def wait_http(proc: Proc, url: str, timeout: float = 90.0) -> None:
    """Wait until `url` answers 2xx; fail with the process log if it died or never came up."""

    def up() -> bool:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return http_ok(url)

    try:
        wait_for(up, timeout, f"{proc.name} at {url}")
    except BenchError as exc:
        raise BenchError(f"{exc}\n{proc.log_tail()}") from None


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (gunicorn and Celery fork their workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def peak_rss_mib(pid: int) -> float:
    """Sum over the process tree of each process's peak resident set (VmHWM), in MiB."""
    total_kib = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by the process tree of `pid` (children reaped by it included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table for the terminal."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        first = row[0].ljust(widths[0])
        lines.append("  ".join([first] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def emit(name: str, figures: dict[str, Any]) -> None:
    """The one machine-readable line every benchmark prints: `BENCH <name> <json>`."""
    print(f"BENCH {name} " + json.dumps(figures, sort_keys=True), flush=True)
