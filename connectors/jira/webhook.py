"""Jira / JSM webhooks: signature check and payload → `Event`.

Admin webhooks with a secret send `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`; JSM
Automation's "Send web request" is not signed, so those requests must carry the same secret in a header
the rule adds (`X-Automation-Webhook-Token: <secret>`, or `Authorization: Bearer <secret>`). Either proof is
checked on the raw bytes, in constant time, before any parsing.

Deliveries are identified by `X-Atlassian-Webhook-Identifier`, which Jira keeps across retries; Automation
requests have none, so the template's own `id` is used when the rule sends one, else the whole body (identical
on a resend) is hashed: hashing only issue key + event + timestamp would merge two different comments that
land in the same millisecond.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.events import Actor, Event, EventKind, event_id
from bot.domain.tickets import Role
from connectors.webhook_kit import Ignored, WebhookRejected, hmac_sha256, same_digest

DESK = "jira"
SIGNATURE = "x-hub-signature"
TOKEN_HEADER = "x-automation-webhook-token"  # noqa: S105 - a header name, not a secret
IDENTIFIER = "x-atlassian-webhook-identifier"

AUTOMATION_TEMPLATE = """{
  "helpdesk_bot": "1",
  "event": "comment_added",
  "issue": "{{issue.key}}",
  "actor": "{{initiator.accountId}}",
  "internal": "{{comment.internal}}",
  "updated": "{{issue.updated}}"
}"""
"""The custom body of a JSM Automation "Send web request" action. `event` is fixed per rule (ticket_created,
ticket_updated, comment_added, status_changed, assignee_changed, ticket_deleted); `internal` only in comment
rules; optional `actor_type` ("customer") and `id` (a delivery id, if the rule has one). "Issue data" bodies
(the issue JSON without `webhookEvent`) are accepted too, as ticket_updated."""

ISSUE_EVENTS = {
    "jira:issue_created": EventKind.TICKET_CREATED,
    "jira:issue_updated": EventKind.TICKET_UPDATED,
    "jira:issue_deleted": EventKind.TICKET_DELETED,
    "comment_created": EventKind.COMMENT_ADDED,
    "comment_updated": EventKind.TICKET_UPDATED,
}
SERVER_TYPE_NAMES = {
    "issue_created": EventKind.TICKET_CREATED,
    "issue_commented": EventKind.COMMENT_ADDED,
    "issue_assigned": EventKind.ASSIGNEE_CHANGED,
}
TEMPLATE_KINDS = {kind.value: kind for kind in EventKind}


def sign(secret: str, body: bytes, *, now: datetime | None = None) -> dict[str, str]:
    """The headers Jira sends with a delivery of `body` (used by the sandbox and in tests)."""
    return {
        "X-Hub-Signature": f"sha256={hmac_sha256(secret, body).hex()}",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
    }


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: datetime, tolerance: timedelta) -> None:
    """Refuse (401) unless the body is signed with the secret, or an Automation request carries it."""
    signature = headers.get(SIGNATURE, "")
    if signature:
        algorithm, _, given = signature.partition("=")
        if algorithm.strip().lower() != "sha256":
            raise WebhookRejected(401, f"X-Hub-Signature must be sha256=<hex>, got {algorithm[:20]!r}")
        if not same_digest(hmac_sha256(secret, body).hex(), given.strip().lower()):
            raise WebhookRejected(401, "X-Hub-Signature does not match the body")
        return
    token = headers.get(TOKEN_HEADER) or _bearer(headers.get("authorization", ""))
    if not token:
        raise WebhookRejected(401, "missing X-Hub-Signature (admin webhook) or X-Automation-Webhook-Token")
    if not same_digest(secret, token):
        raise WebhookRejected(401, "automation token does not match the webhook secret")


def _bearer(value: str) -> str:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def delivery_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
    """Jira's identifier (same on every retry), else the Automation template's `id`, else a body hash."""
    if headers.get(IDENTIFIER):
        return f"delivery:{headers[IDENTIFIER]}"
    if "helpdesk_bot" in payload and isinstance(payload.get("id"), str | int) and str(payload["id"]):
        return f"automation:{payload['id']}"
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return "body:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse(
    headers: Mapping[str, str], payload: Mapping[str, Any], *, delivery_id: str, received_at: datetime
) -> Event | Ignored:
    if "helpdesk_bot" in payload:
        return _parse_template(payload, delivery_id, received_at)
    name = str(payload.get("webhookEvent") or "")
    issue = payload.get("issue")
    if not name and isinstance(issue, Mapping):
        name = _server_event_name(payload)
    if not name and "key" in payload and "fields" in payload:
        return _event(
            payload, EventKind.TICKET_UPDATED, str(payload["key"]), _actor(None), delivery_id, received_at, "automation"
        )
    if not name:
        raise WebhookRejected(400, "not a Jira webhook body: no webhookEvent, issue or helpdesk_bot template")
    kind = ISSUE_EVENTS.get(name)
    if kind is None:
        return Ignored(f"jira event type {name} is not handled")
    comment = payload.get("comment") if isinstance(payload.get("comment"), Mapping) else None
    key = _issue_ref(issue, comment)
    if key is None:
        raise WebhookRejected(400, f"jira {name} body without issue.key")
    if kind is EventKind.TICKET_UPDATED and name == "jira:issue_updated":
        kind = _update_kind(payload, comment)
    author = comment.get("author") if comment and isinstance(comment.get("author"), Mapping) else payload.get("user")
    event = _event(payload, kind, key, _actor(author), delivery_id, received_at, "webhook")
    if comment is not None and "jsdPublic" in comment:
        event = replace(event, comment_public=bool(comment["jsdPublic"]))
    return event


def _issue_ref(issue: Any, comment: Mapping[str, Any] | None) -> str | None:
    """The issue key; Server comment events carry no issue, only the comment's own URL with the issue id."""
    if isinstance(issue, Mapping) and isinstance(issue.get("key"), str) and issue["key"]:
        return str(issue["key"])
    url = str(comment.get("self", "")) if comment else ""
    match = re.search(r"/issue/(\d+)/comment/", url)
    return match.group(1) if match else None


def _server_event_name(payload: Mapping[str, Any]) -> str:
    """Old Server bodies have no `webhookEvent`; `issue_event_type_name` says what happened."""
    type_name = str(payload.get("issue_event_type_name") or "")
    if type_name == "issue_created":
        return "jira:issue_created"
    if type_name:
        return "jira:issue_updated"
    return ""


def _update_kind(payload: Mapping[str, Any], comment: Mapping[str, Any] | None) -> EventKind:
    """What an `issue_updated` means. An edited comment is a plain update (nobody new spoke); a
    resolution change alone is a status change, because some workflows resolve without moving status."""
    type_name = payload.get("issue_event_type_name")
    if comment is not None:
        edited = type_name == "issue_comment_edited" or (
            not type_name and comment.get("updated") not in (None, comment.get("created"))
        )
        return EventKind.TICKET_UPDATED if edited else EventKind.COMMENT_ADDED
    if type_name == "issue_commented":
        return EventKind.COMMENT_ADDED
    changelog = payload.get("changelog")
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    fields = {str(i.get("field")) for i in items or [] if isinstance(i, Mapping)}
    if fields & {"status", "resolution"}:
        return EventKind.STATUS_CHANGED
    if "assignee" in fields or type_name == "issue_assigned":
        return EventKind.ASSIGNEE_CHANGED
    return EventKind.TICKET_UPDATED


def _actor(user: Any) -> Actor:
    if not isinstance(user, Mapping):
        return Actor(None, Role.AGENT)
    ident = user.get("accountId") or user.get("key") or user.get("name")
    role = Role.CUSTOMER if user.get("accountType") == "customer" else Role.AGENT
    return Actor(str(ident) if ident else None, role, user.get("displayName"))


def _parse_template(payload: Mapping[str, Any], delivery: str, received_at: datetime) -> Event | Ignored:
    key = payload.get("issue")
    if not isinstance(key, str) or "-" not in key:
        raise WebhookRejected(400, 'automation body needs "issue": "{{issue.key}}" (e.g. SD-12)')
    name = str(payload.get("event") or "ticket_updated")
    kind = TEMPLATE_KINDS.get(name)
    if kind is None:
        return Ignored(f"jira automation event {name!r} is not handled (known: {', '.join(TEMPLATE_KINDS)})")
    actor_id = str(payload.get("actor") or "") or None
    role = Role.CUSTOMER if payload.get("actor_type") == "customer" else Role.AGENT
    event = _event(payload, kind, key, Actor(actor_id, role), delivery, received_at, "automation")
    internal = str(payload.get("internal", "")).strip().lower()
    if kind is EventKind.COMMENT_ADDED and internal in ("true", "false"):
        event = replace(event, comment_public=internal == "false")
    return event


def _event(
    payload: Mapping[str, Any],
    kind: EventKind,
    key: str,
    actor: Actor,
    delivery: str,
    received_at: datetime,
    source: str,
) -> Event:
    occurred = _epoch_ms(payload.get("timestamp"))
    return Event(
        id=event_id(DESK, delivery),
        desk=DESK,
        kind=kind,
        ticket_id=key,
        actor=actor,
        delivery_id=delivery,
        received_at=received_at,
        payload=payload,
        occurred_at=occurred,
        source=source,
    )


def _epoch_ms(value: Any) -> datetime | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
