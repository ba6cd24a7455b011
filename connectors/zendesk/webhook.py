"""Zendesk webhooks: signature check and payload → `Event`.

Zendesk signs `timestamp_text + raw_body` with HMAC-SHA256 keyed by the webhook's signing secret (the
secret's text, not base64-decoded) and sends the base64 digest and the timestamp as headers. The
timestamp bounds the replay window. Two body styles arrive at the same URL:

- event subscriptions (`"type": "zen:event-type:ticket.created"` envelope, ids as strings), and
- trigger/automation webhooks, whose body is the JSON template an admin pastes into the trigger
  (see `TRIGGER_TEMPLATE`, documented in the README). They carry no event id, so the invocation id
  header (or a hash of what the template sends) identifies the delivery.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from connectors.webhook_kit import Ignored, WebhookRejected, hmac_sha256, same_digest

DESK = "zendesk"
SIGNATURE = "x-zendesk-webhook-signature"
TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
INVOCATION = "x-zendesk-webhook-invocation-id"
EVENT_PREFIX = "zen:event-type:"

TRIGGER_TEMPLATE = """{
  "helpdesk_bot": "1",
  "event": "ticket_created",
  "ticket_id": "{{ticket.id}}",
  "actor_id": "{{current_user.id}}",
  "actor_role": "{{current_user.role}}",
  "requester_id": "{{ticket.requester.id}}",
  "updated_at": "{{ticket.updated_at_with_timestamp}}",
  "comment_public": "{{ticket.latest_comment.is_public}}"
}"""
"""What an admin pastes into a trigger's "Notify webhook" action (`event` per trigger: ticket_created,
ticket_updated, comment_added, status_changed). The bot re-reads the ticket, so the template stays small.
`actor_role` (end-user, agent or admin) tells a customer from staff even when the customer is only CC'd;
without it, the actor counts as the customer only when they are the requester."""

ROLES = {"end-user": Role.CUSTOMER, "agent": Role.AGENT, "admin": Role.AGENT}

SUBSCRIPTION_KINDS = {
    "ticket.created": EventKind.TICKET_CREATED,
    "ticket.comment_added": EventKind.COMMENT_ADDED,
    "ticket.status_changed": EventKind.STATUS_CHANGED,
    "ticket.agent_assignment_changed": EventKind.ASSIGNEE_CHANGED,
    "ticket.soft_deleted": EventKind.TICKET_DELETED,
    "ticket.permanently_deleted": EventKind.TICKET_DELETED,
}
TRIGGER_KINDS = {kind.value: kind for kind in EventKind}


def sign(secret: str, body: bytes, *, now: datetime | None = None) -> dict[str, str]:
    """The headers Zendesk sends with a delivery of `body` (used by the sandbox and in tests)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac_sha256(secret, stamp.encode() + body)
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: datetime, tolerance: timedelta) -> None:
    """Refuse (401) unless the signature matches and its timestamp is within `tolerance` of `now`."""
    given = headers.get(SIGNATURE, "")
    stamp = headers.get(TIMESTAMP, "")
    if not given or not stamp:
        raise WebhookRejected(401, "missing X-Zendesk-Webhook-Signature or its timestamp header")
    expected = base64.b64encode(hmac_sha256(secret, stamp.encode() + body))
    if not same_digest(expected, given.strip().encode(errors="replace")):
        raise WebhookRejected(401, "signature does not match the body and timestamp")
    try:
        signed_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise WebhookRejected(401, f"signature timestamp is not ISO-8601: {stamp[:40]!r}") from exc
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if abs(now - signed_at) > tolerance:
        raise WebhookRejected(401, f"stale timestamp {stamp}: more than {tolerance.total_seconds():g}s from now")


def delivery_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
    """Event subscriptions carry an event id; trigger bodies do not, so use the invocation id or a hash."""
    if _is_subscription(payload) and payload.get("id"):
        return f"event:{payload['id']}"
    if headers.get(INVOCATION):
        return f"invocation:{headers[INVOCATION]}"
    basis = "\0".join(str(payload.get(k, "")) for k in ("event", "ticket_id", "updated_at", "actor_id"))
    return "template:" + hashlib.sha256(basis.encode()).hexdigest()


def parse(
    headers: Mapping[str, str], payload: Mapping[str, Any], *, delivery_id: str, received_at: datetime
) -> Event | Ignored:
    if _is_subscription(payload):
        return _parse_subscription(payload, delivery_id, received_at)
    if "helpdesk_bot" in payload or "ticket_id" in payload:
        return _parse_trigger(payload, delivery_id, received_at)
    raise WebhookRejected(400, "not a Zendesk webhook body: no zen:event-type envelope and no ticket_id")


def _is_subscription(payload: Mapping[str, Any]) -> bool:
    return str(payload.get("type", "")).startswith(EVENT_PREFIX)


def _parse_subscription(payload: Mapping[str, Any], delivery: str, received_at: datetime) -> Event | Ignored:
    event_type = str(payload["type"])[len(EVENT_PREFIX) :]
    if not event_type.startswith("ticket."):
        return Ignored(f"zendesk event type {event_type} is not handled")
    detail = payload.get("detail")
    if not isinstance(detail, Mapping) or not _ticket_id(detail.get("id")):
        raise WebhookRejected(400, f"zendesk {event_type} event without detail.id (the ticket id)")
    body = payload.get("event") if isinstance(payload.get("event"), Mapping) else {}
    comment = body.get("comment") if isinstance(body, Mapping) else None
    if isinstance(comment, Mapping) and isinstance(comment.get("author"), Mapping):
        author = comment["author"]
        actor = Actor(
            _text(author.get("id")), Role.AGENT if author.get("is_staff") else Role.CUSTOMER, author.get("name")
        )
        public = bool(comment.get("is_public")) if "is_public" in comment else None
    else:
        actor_id = _text(detail.get("actor_id"))
        customer = actor_id is not None and actor_id == _text(detail.get("requester_id"))
        actor = Actor(actor_id, Role.CUSTOMER if customer else Role.AGENT)
        public = None
    return Event(
        id=event_id(DESK, delivery),
        desk=DESK,
        kind=SUBSCRIPTION_KINDS.get(event_type, EventKind.TICKET_UPDATED),
        ticket_id=str(detail["id"]),
        actor=actor,
        delivery_id=delivery,
        received_at=received_at,
        payload=payload,
        occurred_at=_time(payload.get("time")),
        source="event_subscription",
        comment_public=public,
    )


def _parse_trigger(payload: Mapping[str, Any], delivery: str, received_at: datetime) -> Event | Ignored:
    ticket = _ticket_id(payload.get("ticket_id"))
    if ticket is None:
        raise WebhookRejected(400, 'trigger body needs "ticket_id": "{{ticket.id}}" (a number)')
    name = str(payload.get("event") or "ticket_updated")
    kind = TRIGGER_KINDS.get(name)
    if kind is None:
        return Ignored(f"zendesk trigger event {name!r} is not handled (known: {', '.join(TRIGGER_KINDS)})")
    actor_id = _text(payload.get("actor_id"))
    role = ROLES.get(str(payload.get("actor_role", "")).strip().lower())
    if role is None:
        customer = actor_id is not None and actor_id == _text(payload.get("requester_id"))
        role = Role.CUSTOMER if customer else Role.AGENT
    public = str(payload.get("comment_public", "")).lower()
    return Event(
        id=event_id(DESK, delivery),
        desk=DESK,
        kind=kind,
        ticket_id=ticket,
        actor=Actor(actor_id, role),
        delivery_id=delivery,
        received_at=received_at,
        payload=payload,
        occurred_at=_time(payload.get("updated_at")),
        source="trigger",
        comment_public={"true": True, "false": False}.get(public),
    )


def _ticket_id(value: Any) -> str | None:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if text.isdigit() else None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "", 0, "0") else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Zendesk sends nanoseconds; Python parses at most microseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
