"""Every log line of every process is one JSON object: the bot's own, Celery's, kombu's and gunicorn's,
with tracebacks as structured frames; Sentry is switched on by SENTRY_DSN alone."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.logs import configure_logging
from tests.bench.common import free_port
from tests.conftest import BotProcesses, wait_for


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Configure logging as every process does, with the one handler writing into a buffer to read back."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    out = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    yield out
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pytest.fail(f"not a JSON log line: {line!r}")
    return out


def test_library_errors_are_json_with_a_structured_traceback(json_logs: io.StringIO) -> None:
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("kombu.connection").exception("connection lost: %s", "redis")
    structlog.contextvars.bind_contextvars(event_id="zendesk:e1")
    try:
        structlog.get_logger("tasks.intake").info("event processed", outcome="done")
    finally:
        structlog.contextvars.clear_contextvars()
    kombu, bot = lines(json_logs.getvalue())
    assert kombu["logger"] == "kombu.connection" and kombu["level"] == "error"
    assert kombu["event"] == "connection lost: redis"
    [exc] = kombu["exception"]  # type: ignore[misc]
    assert (
        exc["exc_type"] == "KeyError"
        and exc["frames"][-1]["name"] == "test_library_errors_are_json_with_a_structured_traceback"
    )
    assert bot == {**bot, "event": "event processed", "event_id": "zendesk:e1", "outcome": "done", "level": "info"}


@pytest.mark.e2e
def test_gunicorn_lines_are_json(tmp_path: Path, redis_prefix: str) -> None:
    procs = BotProcesses(redis_prefix, tmp_path)
    port = free_port()
    procs.start("web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
    try:
        wait_for(lambda: "Booting worker" in procs.logs(), timeout=30)
    finally:
        procs.stop()
    logged = lines(procs.logs())
    assert any(entry["logger"] == "gunicorn.error" and "Listening at" in str(entry["event"]) for entry in logged)


def test_sentry_is_on_when_sentry_dsn_is_set() -> None:
    code = "import sentry_sdk\nfrom bot.logs import init_sentry\nprint(init_sentry(), sentry_sdk.get_client().dsn)"
    dsn = "https://public@o0.ingest.example.invalid/1"
    on = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "SENTRY_DSN": dsn}, capture_output=True, text=True, check=True
    )
    assert on.stdout.split() == ["True", dsn]
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert off.stdout.split() == ["False", "None"]
