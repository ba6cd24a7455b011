"""Webhook intake: the one HTTP path every desk event takes into the bot.

Order matters and is fixed: size limit (413) → signature on the raw bytes (401, before any parsing)
→ content type (415) → JSON object (400) → desk payload (400 / 200 ignored) → dedupe + record +
enqueue in one atomic Redis script (200 duplicate / 202 queued). No helpdesk API is called here:
the worker re-reads the ticket, so intake stays in the low milliseconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import structlog
from celery import Celery
from flask import Blueprint, Response, current_app, jsonify, request

from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
from bot.metrics import INTAKE_SECONDS, REJECTIONS, REQUESTS, _text
from bot.spool import Spool
from connectors import DESK_NAMES, webhook_module
from connectors.webhook_kit import Ignored, WebhookRejected
from tasks.publish import intake_message

log = structlog.get_logger(__name__)

INTAKE_TASK = "helpdesk.process_event"
EMPTY_BOT_IDS_TTL = 1.0
"""Seconds an empty bot-id set is trusted: short, so the first worker's id is seen almost at once."""
REJECTED_KEPT = 1000
"""Signed but unreadable deliveries kept per desk (newest first) for `helpdesk-bot rejected`."""
REASON_CODES = {401: "signature", 400: "malformed", 413: "too_large", 415: "content_type", 404: "unknown_desk"}


@dataclass
class Intake:
    """Everything intake needs, built once per process (see `bot.app.create_app`)."""

    eventlog: EventLog
    celery: Celery
    spool: Spool
    secrets: dict[str, str | None]
    max_body: int
    tolerance: timedelta
    bot_ids_ttl: float = 30.0
    _bot_ids: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    def bot_ids(self, desk: str) -> frozenset[str]:
        """The bot's own user ids on `desk`, published in Redis by workers; cached briefly."""
        cached = self._bot_ids.get(desk)
        now = time.monotonic()
        if cached and now - cached[0] < self.bot_ids_ttl:
            return cached[1]
        try:
            ids = frozenset(_text(m) for m in self.eventlog.r.smembers(f"{self.eventlog.prefix}bot-ids:{desk}"))
        except redis.RedisError:
            ids = cached[1] if cached else frozenset()
        # An empty set means no worker has published its ids yet: trust it only for a moment.
        self._bot_ids[desk] = (now if ids else now - self.bot_ids_ttl + EMPTY_BOT_IDS_TTL, ids)
        return ids

    def receive(self, desk: str, headers: dict[str, str], body: bytes, now: datetime) -> tuple[int, dict[str, Any]]:
        """Decide the answer to one delivery. Raises WebhookRejected for every refusal."""
        secret = self.secrets.get(desk)
        if not secret:
            raise WebhookRejected(
                401, f"no webhook secret is configured for {desk}: unsigned deliveries are never accepted"
            )
        module = webhook_module(desk)
        module.verify(headers, body, secret, now, self.tolerance)
        try:
            content_type = headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise WebhookRejected(415, f"content type must be application/json, got {content_type or 'none'!r}")
            payload = _json_object(body)
            delivery = module.delivery_id(headers, payload)
            parsed = module.parse(headers, payload, delivery_id=delivery, received_at=now)
        except WebhookRejected as exc:
            self.keep_rejected(desk, headers, body, exc.reason, now)
            raise
        if isinstance(parsed, Ignored):
            return self._ignore(_ignored_event(desk, delivery, now, payload), parsed.reason)
        event: Event = parsed
        if event.actor.role is Role.BOT or (event.actor.id and event.actor.id in self.bot_ids(desk)):
            return self._ignore(event.with_actor_role(Role.BOT), "caused by the bot's own change")
        return self._accept(event)

    def keep_rejected(self, desk: str, headers: dict[str, str], body: bytes, reason: str, now: datetime) -> None:
        """Keep a signed delivery the bot could not read, so it can be inspected and posted again once the
        cause is fixed (`helpdesk-bot rejected`). Unsigned deliveries are never kept: anyone can send those."""
        entry = {
            "desk": desk,
            "received_at": now.isoformat(),
            "reason": reason,
            "headers": {k: v for k, v in headers.items() if k.startswith(("x-", "content-type", "user-agent"))},
            "body": body.decode("utf-8", errors="replace"),
        }
        key = f"{self.eventlog.prefix}rejected:{desk}"
        try:
            pipe = self.eventlog.r.pipeline()
            pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(key, 0, REJECTED_KEPT - 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not keep a rejected delivery", desk=desk, error=str(exc))

    def _accept(self, event: Event) -> tuple[int, dict[str, Any]]:
        message = intake_message(self.celery, INTAKE_TASK, event.id)
        try:
            added = self.eventlog.record(event, State.QUEUED, message)
        except redis.RedisError as exc:
            return self._spool(event, State.QUEUED, "", exc)
        if not added:
            return 200, {"status": "duplicate", "event_id": event.id}
        return 202, {"status": "queued", "event_id": event.id}

    def _ignore(self, event: Event, reason: str) -> tuple[int, dict[str, Any]]:
        try:
            added = self.eventlog.record(event, State.IGNORED, None, reason=reason)
        except redis.RedisError as exc:
            return self._spool(event, State.IGNORED, reason, exc)
        status = "ignored" if added else "duplicate"
        return 200, {"status": f"{status}: {reason}", "event_id": event.id}

    def _spool(self, event: Event, state: State, reason: str, exc: Exception) -> tuple[int, dict[str, Any]]:
        log.warning("redis unavailable, spooling event", event_id=event.id, error=str(exc))
        try:
            self.spool.put(event, state.value, reason)
        except OSError as spool_exc:
            log.error("could not spool event", event_id=event.id, error=str(spool_exc))
            return 503, {"status": "unavailable", "reason": "event store unreachable; retry later"}
        return 202, {"status": "spooled", "event_id": event.id}

    def replay_spooled(self, event: Event, state: str, reason: str) -> None:
        """The spool drainer's sink: record (and enqueue) as intake would have; a duplicate is a no-op."""
        message = intake_message(self.celery, INTAKE_TASK, event.id) if state == State.QUEUED else None
        self.eventlog.record(event, State(state), message, reason=reason)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise WebhookRejected(400, "body is not JSON: nested too deeply") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, f"JSON body must be an object, got {type(payload).__name__}")
    return payload


def _ignored_event(desk: str, delivery: str, now: datetime, payload: dict[str, Any]) -> Event:
    """An event record for a delivery the desk parser chose to ignore, kept so it can be audited."""
    return Event(
        id=event_id(desk, delivery),
        desk=desk,
        kind=EventKind.TICKET_UPDATED,
        ticket_id="",
        actor=Actor(id=None, role=Role.AGENT),
        delivery_id=delivery,
        received_at=now,
        payload=payload,
    )


bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/<desk>")
def receive(desk: str) -> Response:
    started = time.perf_counter()
    intake: Intake = current_app.extensions["helpdesk_bot_intake"]
    label = desk if desk in DESK_NAMES else "unknown"
    try:
        if desk not in DESK_NAMES:
            raise WebhookRejected(404, f"no such desk: {desk!r} (known: {', '.join(DESK_NAMES)})")
        body = _read_limited(intake.max_body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, answer = intake.receive(desk, headers, body, datetime.now(UTC))
    except WebhookRejected as exc:
        code = REASON_CODES.get(exc.status, str(exc.status))
        REJECTIONS.labels(label, code).inc()
        REQUESTS.labels(label, "rejected").inc()
        log.info("webhook rejected", desk=label, status=exc.status, reason=exc.reason)
        status, answer = exc.status, {"status": "rejected", "reason": exc.reason}
    else:
        REQUESTS.labels(label, answer["status"].split(":")[0]).inc()
    INTAKE_SECONDS.labels(label).observe(time.perf_counter() - started)
    resp = jsonify(answer)
    resp.status_code = status
    return resp


def _read_limited(limit: int) -> bytes:
    """Read at most `limit` bytes; a longer body is refused without reading the rest into memory."""
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected(413, f"body of {request.content_length} bytes exceeds the {limit}-byte limit")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise WebhookRejected(413, f"body exceeds the {limit}-byte limit")
    return body
