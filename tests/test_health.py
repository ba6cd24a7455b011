"""`helpdesk-bot health ROLE`: each role's own verdict, as compose and Kubernetes run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from bot.health import BEAT_OVERDUE_GRACE, check_beat, check_http, check_worker
from tasks.celery_app import make_app
from tests.conftest import TEST_REDIS_URL, BotProcesses, ServedApp, wait_for

ROOT = Path(__file__).parent.parent


def status_app(code: int) -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/readyz", view_func=lambda: ("", code))
    return app


@pytest.mark.parametrize("code, healthy", [(200, True), (503, False)])
def test_web_is_healthy_when_readyz_answers_200(serve: type[ServedApp], code: int, healthy: bool) -> None:
    served = serve(status_app(code))
    ok, message = check_http(f"{served.url}/readyz")
    assert ok is healthy
    assert str(code) in message


def test_nothing_listening_is_unhealthy() -> None:
    ok, message = check_http("http://127.0.0.1:9/readyz")
    assert not ok and "127.0.0.1:9" in message


@pytest.fixture
def beat_keys(redis_prefix: str, redis_client: redis.Redis) -> Iterator[tuple[object, str, str]]:
    app = make_app(TEST_REDIS_URL, key_prefix=redis_prefix)
    prefix = f"{redis_prefix}redbeat:"
    yield app, prefix + ":lock", prefix + ":schedule"


def test_beat_needs_a_lock_holder_and_a_schedule_on_time(
    beat_keys: tuple[object, str, str], redis_client: redis.Redis
) -> None:
    app, lock, schedule = beat_keys
    due = 1_800_000_000.0
    assert check_beat(app, now=due) == (False, "beat: no beat holds the scheduler lock")  # type: ignore[arg-type]
    redis_client.set(lock, "token", ex=30)
    assert check_beat(app, now=due)[0] is False  # type: ignore[arg-type]  # nothing scheduled
    redis_client.zadd(schedule, {f"{schedule}-entry": due})
    assert check_beat(app, now=due - 100) == (True, "beat: lock held, sweeps on time")  # type: ignore[arg-type]
    assert check_beat(app, now=due + BEAT_OVERDUE_GRACE - 1)[0] is True  # type: ignore[arg-type]
    ok, message = check_beat(app, now=due + BEAT_OVERDUE_GRACE + 30)  # type: ignore[arg-type]
    assert not ok and "overdue" in message


@pytest.mark.e2e
def test_worker_answers_its_own_ping(redis_prefix: str, tmp_path: Path) -> None:
    bots = BotProcesses(redis_prefix, tmp_path)
    app = make_app(TEST_REDIS_URL, key_prefix=redis_prefix)
    assert check_worker(app, "celery@nowhere")[0] is False
    bots.start("worker", "--concurrency", "1")
    try:
        wait_for(lambda: check_worker(app)[0], timeout=60)
    finally:
        bots.stop()


def test_health_command_prints_one_line_and_exits_1_when_unhealthy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "health", "web", "--port", "9"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.count("\n") == 1 and "127.0.0.1:9/readyz" in done.stdout
    assert "Traceback" not in done.stderr
