"""Fixtures shared by every test: a real Redis (own database and key prefix), a threaded HTTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from tests.redis_server import suite_redis_url

FIXTURES = Path(__file__).parent / "fixtures"
TEST_REDIS_URL = suite_redis_url()
"""Chosen once per run: the configured Redis when it answers, else a private one (tests/redis_server.py)."""


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to one test; everything under it is deleted afterwards (never FLUSHALL)."""
    prefix = f"hbtest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    cleanup_prefix(prefix)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    yield client
    client.close()


class ServedApp:
    """A Flask app served over real HTTP on a free loopback port, in a daemon thread."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[type[ServedApp]]:
    served: list[ServedApp] = []

    class _Tracked(ServedApp):
        def __init__(self, app: Flask) -> None:
            super().__init__(app)
            served.append(self)

    yield _Tracked
    for s in served:
        s.close()


def cleanup_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


class BotProcesses:
    """Real `helpdesk-bot` processes (worker, web...) sharing one Redis key prefix for a test session."""

    def __init__(self, prefix: str, home: Path) -> None:
        self.prefix = prefix
        self.home = home
        self.env = dict(
            os.environ,
            REDIS_URL=TEST_REDIS_URL,
            HELPDESK_BOT_KEY_PREFIX=prefix,
            HELPDESK_BOT_HOME=str(home),
            PYTHONUNBUFFERED="1",
        )
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.home / f"{args[0]}-{len(self.procs)}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *args],
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).parent.parent,
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.home.glob("*.log")))


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until `predicate` returns something truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
