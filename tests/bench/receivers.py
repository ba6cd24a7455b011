"""The two comparison receivers for the ingest benchmark, served by gunicorn exactly like `helpdesk-bot web`.

- `bare()`: reads the body and answers 202. Nothing a receiver could do is cheaper: the ceiling.
- `naive()`: what a first webhook receiver usually looks like: verify the signature, parse the JSON,
  Celery `.delay()` per request. No dedupe, no event record, so it does strictly less than the bot.

Both read their Redis URL, key prefix and secret from the same environment variables as the bot.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from celery import Celery
from flask import Flask, Response, jsonify, request

from connectors.webhook_kit import WebhookRejected
from connectors.zendesk import webhook as zendesk_webhook
from tasks.celery_app import make_app as make_celery


def bare() -> Flask:
    app = Flask("bench_bare")

    @app.post("/webhooks/<desk>")
    def receive(desk: str) -> Response:
        request.get_data()
        resp = jsonify({"status": "queued"})
        resp.status_code = 202
        return resp

    app.add_url_rule("/healthz", "healthz", lambda: jsonify({"status": "ok"}))
    return app


def naive() -> Flask:
    celery: Celery = make_celery(os.environ["REDIS_URL"], os.environ["HELPDESK_BOT_KEY_PREFIX"])
    secret = os.environ["ZENDESK_WEBHOOK_SECRET"]
    tolerance = timedelta(seconds=300)

    @celery.task(name="bench.naive_process")
    def process(payload: dict[str, object]) -> None:
        """Never consumed during the benchmark: publishing is the cost being measured."""

    app = Flask("bench_naive")

    @app.post("/webhooks/<desk>")
    def receive(desk: str) -> Response:
        body = request.get_data()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            zendesk_webhook.verify(headers, body, secret, datetime.now(UTC), tolerance)
        except WebhookRejected as exc:
            resp = jsonify({"status": "rejected", "reason": exc.reason})
            resp.status_code = exc.status
            return resp
        payload = json.loads(body)
        process.delay(payload)
        resp = jsonify({"status": "queued"})
        resp.status_code = 202
        return resp

    app.add_url_rule("/healthz", "healthz", lambda: jsonify({"status": "ok"}))
    return app
