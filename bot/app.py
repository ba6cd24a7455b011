"""The web process: webhook intake plus health, readiness and Prometheus endpoints."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta

import redis
from flask import Flask, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from bot.config import DESKS, Settings, get_settings
from bot.eventlog import EventLog
from bot.logs import configure_logging
from bot.metrics import RedisCollector, SpoolCollector
from bot.redis_conn import client_for
from bot.spool import Drainer, Spool
from bot.webhooks import Intake
from bot.webhooks import bp as webhooks_bp
from tasks.celery_app import INTAKE_QUEUE, SWEEP_QUEUE
from tasks.celery_app import make_app as make_celery


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    prefix = settings.helpdesk_bot_key_prefix
    configure_logging(settings.helpdesk_bot_log_level)
    client = client_for(settings.resolved_redis_url())
    app = Flask("helpdesk_bot")
    spool = Spool(settings.helpdesk_bot_home / "spool")
    intake = Intake(
        eventlog=EventLog(client, prefix, settings.helpdesk_bot_event_ttl_days),
        celery=make_celery(settings.resolved_redis_url(), prefix),
        spool=spool,
        secrets={d: settings.webhook_secret(d) for d in DESKS},
        max_body=settings.helpdesk_bot_max_body_bytes,
        tolerance=timedelta(seconds=settings.helpdesk_bot_signature_tolerance),
    )
    app.extensions["helpdesk_bot_intake"] = intake
    # Started here, not at import: gunicorn builds the app in each forked worker, and threads do not survive
    # a fork. Every web process drains, so the spool empties even when the process that spooled has died.
    app.extensions["helpdesk_bot_drainer"] = Drainer(
        spool, intake.replay_spooled, settings.helpdesk_bot_spool_drain_interval
    ).start()
    app.extensions["helpdesk_bot_redis"] = client
    app.extensions["helpdesk_bot_prefix"] = prefix
    app.register_blueprint(webhooks_bp)
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/readyz", view_func=readyz)
    app.add_url_rule("/metrics", view_func=metrics)
    return app


def healthz() -> Response:
    """The process is up and serving; says nothing about its dependencies (that is /readyz)."""
    return jsonify({"status": "ok"})


def readyz() -> Response:
    """503 while Redis does not answer (deliveries are then only spooled); the body says how many wait."""
    client: redis.Redis = current_app.extensions["helpdesk_bot_redis"]
    spool: Spool = current_app.extensions["helpdesk_bot_intake"].spool
    try:
        depth: int | str = spool.depth()
    except (OSError, sqlite3.Error) as exc:
        depth = f"unreadable: {exc}"
    try:
        client.ping()
    except redis.RedisError as exc:
        resp = jsonify({"status": "unavailable", "redis": str(exc), "spool_depth": depth})
        resp.status_code = 503
        return resp
    return jsonify({"status": "ok", "redis": "ok", "spool_depth": depth})


def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    client: redis.Redis = current_app.extensions["helpdesk_bot_redis"]
    out = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(
        RedisCollector(client, current_app.extensions["helpdesk_bot_prefix"], DESKS, (INTAKE_QUEUE, SWEEP_QUEUE))
    )
    extra.register(SpoolCollector(current_app.extensions["helpdesk_bot_intake"].spool))
    out += generate_latest(extra)
    return Response(out, mimetype=CONTENT_TYPE_LATEST)
