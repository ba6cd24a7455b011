"""The hand-built intake message (tasks/publish.py) is what the installed Celery's `send_task` would put on
the broker, field by field; only the per-message random ids differ. A Celery or kombu upgrade that changes
the message format fails here, before a worker ever sees a message it reads differently."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from bot.checks import publish_problems
from bot.webhooks import INTAKE_TASK
from tasks.celery_app import INTAKE_QUEUE, make_app
from tasks.publish import intake_message
from tests.conftest import TEST_REDIS_URL

RANDOM = {("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id"), ("properties", "delivery_tag")}
"""Fresh uuids in every message."""
NOT_SENT = {("properties", "reply_to")}
"""send_task names the app's reply queue even with results ignored; intake wants no reply, so it sends ''."""


def flatten(message: dict[str, Any]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for part, value in message.items():
        if isinstance(value, dict):
            out.update({(part, k): v for k, v in value.items()})
        else:
            out[(part, "")] = value
    return out


def sent_by_celery(prefix: str, event_id: str) -> tuple[str, dict[str, Any]]:
    """What `send_task` pushes onto the Redis broker for the intake task, read back from the queue."""
    app = make_app(TEST_REDIS_URL, prefix)
    app.send_task(INTAKE_TASK, [event_id], ignore_result=True)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = [k.decode() for k in client.keys(f"{prefix}*") if client.type(k) == b"list"]
    assert keys == [f"{prefix}{INTAKE_QUEUE}"], keys
    raw = client.rpop(keys[0])
    assert isinstance(raw, bytes)
    return keys[0], json.loads(raw)


def test_hand_built_message_equals_send_task(redis_prefix: str) -> None:
    queue, celery_message = sent_by_celery(redis_prefix, "zendesk:abc")
    key, body = intake_message(make_app(TEST_REDIS_URL, redis_prefix), INTAKE_TASK, "zendesk:abc")
    ours = json.loads(body)
    assert key == queue
    theirs, mine = flatten(celery_message), flatten(ours)
    assert set(theirs) == set(mine), f"fields differ: {set(theirs) ^ set(mine)}"
    differing = {k for k in theirs if theirs[k] != mine[k]} - RANDOM - NOT_SENT
    assert not differing, {k: (theirs[k], mine[k]) for k in differing}
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(celery_message["body"]))
    # The ids are fresh per message and consistent within one, as Celery makes them.
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert ours["headers"]["id"] != celery_message["headers"]["id"]


def test_start_up_check_accepts_the_shipped_configuration() -> None:
    assert publish_problems(make_app(TEST_REDIS_URL, "hbtest:check:")) == []


def test_start_up_check_names_every_setting_the_hand_built_message_ignores() -> None:
    app = make_app(TEST_REDIS_URL, "hbtest:check:")
    app.conf.update(
        task_serializer="pickle",
        task_compression="gzip",
        task_protocol=1,
        task_default_priority=5,
        security_key="/etc/bot.key",
        task_routes={INTAKE_TASK: {"queue": "elsewhere"}},
    )
    problems = "\n".join(str(p) for p in publish_problems(app))
    for setting in (
        "task_serializer",
        "task_compression",
        "task_protocol",
        "task_default_priority",
        "security_key",
        "task_routes",
    ):
        assert setting in problems, problems
