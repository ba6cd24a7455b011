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
from connectors.jira.payloads import Comment, Issue, IssueData, Template, User, Webhook
from connectors.payloads import validated
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
        return _parse_template(validated(Template, payload, "jira automation body"), payload, delivery_id, received_at)
    name = payload.get("webhookEvent")
    if isinstance(name, str) and name and name not in ISSUE_EVENTS:
        return Ignored(f"jira event type {name[:100]} is not handled")  # before validation: other shapes
    body = validated(Webhook, payload, "jira webhook body")
    name = body.webhookEvent or (_server_event_name(body) if body.issue is not None else "")
    if not name and "key" in payload and "fields" in payload:
        data = validated(IssueData, payload, "jira issue data body")
        return _event(payload, EventKind.TICKET_UPDATED, data.key, _actor(None), delivery_id, received_at, "automation")
    kind = ISSUE_EVENTS.get(name)
    if kind is None:
        raise WebhookRejected(400, "not a Jira webhook body: no webhookEvent, issue or helpdesk_bot template")
    key = _issue_ref(body.issue, body.comment)
    if key is None:
        raise WebhookRejected(400, f"jira {name} body without issue.key")
    if kind is EventKind.TICKET_UPDATED and name == "jira:issue_updated":
        kind = _update_kind(body)
    comment = body.comment
    author = comment.author if comment is not None and comment.author is not None else body.user
    event = _event(payload, kind, key, _actor(author), delivery_id, received_at, "webhook")
    if comment is not None and comment.jsdPublic is not None:
        event = replace(event, comment_public=comment.jsdPublic)
    return event


def _issue_ref(issue: Issue | None, comment: Comment | None) -> str | None:
    """The issue key; Server comment events carry no issue, only the comment's own URL with the issue id."""
    if issue is not None and issue.key:
        return issue.key
    url = comment.self_url or "" if comment is not None else ""
    match = re.search(r"/issue/(\d+)/comment/", url)
    return match.group(1) if match else None


def _server_event_name(body: Webhook) -> str:
    """Old Server bodies have no `webhookEvent`; `issue_event_type_name` says what happened."""
    type_name = body.issue_event_type_name or ""
    if type_name == "issue_created":
        return "jira:issue_created"
    if type_name:
        return "jira:issue_updated"
    return ""


def _update_kind(body: Webhook) -> EventKind:
    """What an `issue_updated` means. An edited comment is a plain update (nobody new spoke); a
    resolution change alone is a status change, because some workflows resolve without moving status."""
    type_name = body.issue_event_type_name
    comment = body.comment
    if comment is not None:
        edited = type_name == "issue_comment_edited" or (
            not type_name and comment.updated not in (None, comment.created)
        )
        return EventKind.TICKET_UPDATED if edited else EventKind.COMMENT_ADDED
    if type_name == "issue_commented":
        return EventKind.COMMENT_ADDED
    items = body.changelog.items if body.changelog is not None else None
    fields = {str(i.field) for i in items or []}
    if fields & {"status", "resolution"}:
        return EventKind.STATUS_CHANGED
    if "assignee" in fields or type_name == "issue_assigned":
        return EventKind.ASSIGNEE_CHANGED
    return EventKind.TICKET_UPDATED


def _actor(user: User | None) -> Actor:
    if user is None:
        return Actor(None, Role.AGENT)
    # Data Center users are known by `name` (what the adapter reads and publishes as the bot's id); their `key`
    # may differ (`testUser` / `TestUser`, or `JIRAUSER10100` for users made after 8.x), so it comes last.
    ident = user.accountId or user.name or user.key
    role = Role.CUSTOMER if user.accountType == "customer" else Role.AGENT
    return Actor(ident or None, role, user.displayName)


def _parse_template(
    body: Template, payload: Mapping[str, Any], delivery: str, received_at: datetime
) -> Event | Ignored:
    if "-" not in body.issue:
        raise WebhookRejected(400, 'automation body needs "issue": "{{issue.key}}" (e.g. SD-12)')
    name = body.event or "ticket_updated"
    kind = TEMPLATE_KINDS.get(name)
    if kind is None:
        return Ignored(f"jira automation event {name[:100]!r} is not handled (known: {', '.join(TEMPLATE_KINDS)})")
    role = Role.CUSTOMER if body.actor_type == "customer" else Role.AGENT
    event = _event(payload, kind, body.issue, Actor(body.actor or None, role), delivery, received_at, "automation")
    internal = str(body.internal).strip().lower() if body.internal is not None else ""
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
    stamp = payload.get("timestamp")
    occurred = _epoch_ms(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None
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


def _epoch_ms(value: float) -> datetime | None:
    if value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
