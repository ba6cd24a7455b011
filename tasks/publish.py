"""Build the broker message for the intake task, so intake can enqueue inside its own Redis script.

`.delay()` costs a round trip and a producer checkout per webhook; intake instead hands this message to
the Lua script that records the event, so dedupe, record and enqueue are one atomic round trip: an
event is never recorded without being queued, nor queued twice. The message is exactly what kombu's
Redis transport would push for `app.send_task(name, [event_id])` (Celery protocol 2, JSON body, base64
body encoding); `tests/test_worker_pipeline.py` proves a real worker runs it. It is written out here
rather than through `app.amqp.as_task_v2`, which spends a quarter of intake's CPU on `saferepr` of the
arguments, a single short string whose repr needs no care.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from functools import cache

from celery import Celery

from tasks.celery_app import INTAKE_QUEUE

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@cache
def _origin() -> str:
    return f"gen{os.getpid()}@{socket.gethostname()}"


@cache
def _queue_key(app: Celery) -> str:
    prefix = app.conf.broker_transport_options.get("global_keyprefix", "")
    return f"{prefix}{INTAKE_QUEUE}"


def intake_message(app: Celery, task_name: str, event_id: str) -> tuple[str, bytes]:
    """(queue key, serialized message) that runs `task_name(event_id)` when a worker consumes it."""
    task_id = str(uuid.uuid4())
    args = [event_id]
    headers: dict[str, object] = {
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(args),
        "kwargsrepr": "{}",
        "origin": _origin(),
        "ignore_result": True,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    body = json.dumps([args, {}, EMBED]).encode()
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": "", "routing_key": INTAKE_QUEUE},
        },
    }
    return _queue_key(app), json.dumps(message).encode()
