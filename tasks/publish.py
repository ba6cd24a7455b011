"""Build the broker message for the intake task, so intake can enqueue inside its own Redis script.

`.delay()` costs a round trip and a producer checkout per webhook; intake instead hands this message to
the Lua script that records the event, so dedupe, record and enqueue are one atomic round trip: an
event is never recorded without being queued, nor queued twice. The message is exactly what kombu's
Redis transport would push (Celery protocol 2, JSON body, base64 body encoding); `tests/test_intake_e2e.py`
proves a real worker runs it.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from celery import Celery

from tasks.celery_app import INTAKE_QUEUE


def intake_message(app: Celery, task_name: str, event_id: str) -> tuple[str, bytes]:
    """(queue key, serialized message) that runs `task_name(event_id)` when a worker consumes it."""
    task_id = str(uuid.uuid4())
    args: list[Any] = [event_id]
    headers, properties, body, _ = app.amqp.as_task_v2(task_id, task_name, args=args, kwargs={})
    payload = json.dumps(body).encode()
    message = {
        "body": base64.b64encode(payload).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": 2,
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": INTAKE_QUEUE, "routing_key": INTAKE_QUEUE},
        },
    }
    prefix = app.conf.broker_transport_options.get("global_keyprefix", "")
    return f"{prefix}{INTAKE_QUEUE}", json.dumps(message).encode()
