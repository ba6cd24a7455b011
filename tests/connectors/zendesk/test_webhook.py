"""Zendesk webhook intake: which deliveries the bot accepts, and what it understands them to mean."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.events import Event, EventKind
from bot.domain.tickets import Role
from connectors.webhook_kit import Ignored, WebhookRejected
from connectors.zendesk import webhook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zendesk"
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
SECRET = "wMZJU7Dlw7pdGPBAs7fz3lVSjF5Hef8mqD7avv5n7zs="


def documented_created() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "webhooks" / "ticket.created__documented_example.json").read_text()))


def raw(payload: dict[str, Any]) -> bytes:
    """Serialised as Zendesk sends it: three-space indent and a trailing newline."""
    return json.dumps(payload, indent=3).encode() + b"\n"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def rejected(call: Any) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        call()
    return caught.value


def rendered_trigger(**values: str) -> dict[str, Any]:
    """The documented trigger template as Zendesk renders it (placeholders become strings)."""
    text = webhook.TRIGGER_TEMPLATE
    placeholders = {
        "{{ticket.id}}": "77",
        "{{current_user.id}}": "301",
        "{{current_user.role}}": "end-user",
        "{{ticket.requester.id}}": "301",
        "{{ticket.updated_at_with_timestamp}}": "2026-11-23T11:59Z",
        "{{ticket.latest_comment.is_public}}": "true",
    }
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    payload = dict(json.loads(text))
    payload.update(values)
    return payload


# --- signature ---------------------------------------------------------------------------------------


def test_a_signed_delivery_is_accepted() -> None:
    body = raw(documented_created())
    headers = lower(webhook.sign(SECRET, body, now=NOW - timedelta(seconds=30)))
    webhook.verify(headers, body, SECRET, NOW, TOLERANCE)


def test_signature_is_base64_hmac_of_timestamp_then_body() -> None:
    """The vector from Zendesk's documented test secret and algorithm (timestamp text + raw body)."""
    headers = webhook.sign(
        "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
        b'{"ticket_id": "123", "status": "open"}',
        now=datetime(2023, 9, 18, 23, 38, 13, tzinfo=UTC),
    )
    assert headers == {
        "X-Zendesk-Webhook-Signature": "cFKu8AYeOxFWDigQDWwkszQf3l1DqpPO9WlQG+IPems=",
        "X-Zendesk-Webhook-Signature-Timestamp": "2023-09-18T23:38:13Z",
    }


def test_body_then_timestamp_order_of_the_outdated_docs_is_refused() -> None:
    """An older Zendesk page signed body + timestamp; a signature made that way must not pass."""
    headers = {
        "x-zendesk-webhook-signature": "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
        "x-zendesk-webhook-signature-timestamp": "2021-07-25T10:00:00Z",
    }
    now = datetime(2021, 7, 25, 10, 0, 30, tzinfo=UTC)
    error = rejected(
        lambda: webhook.verify(
            headers, b'{"say": "hello"}', "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", now, TOLERANCE
        )
    )
    assert error.status == 401


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b + b" "), "does not match"),
        (
            lambda h, b: ({**h, "x-zendesk-webhook-signature": "AAAA" + h["x-zendesk-webhook-signature"][4:]}, b),
            "match",
        ),
        (lambda h, b: ({k: v for k, v in h.items() if k != "x-zendesk-webhook-signature"}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if "timestamp" not in k}, b), "missing"),
        (lambda h, b: ({**h, "x-zendesk-webhook-signature-timestamp": "2026-11-23T11:59:31Z"}, b), "match"),
    ],
    ids=["body-changed", "signature-changed", "no-signature", "no-timestamp", "timestamp-changed"],
)
def test_tampered_or_unsigned_deliveries_are_401(tamper: Any, reason: str) -> None:
    body = raw(documented_created())
    headers, body = tamper(lower(webhook.sign(SECRET, body, now=NOW - timedelta(seconds=30))), body)
    error = rejected(lambda: webhook.verify(headers, body, SECRET, NOW, TOLERANCE))
    assert error.status == 401 and reason in error.reason


def test_a_delivery_signed_with_another_secret_is_401() -> None:
    body = raw(documented_created())
    headers = lower(webhook.sign("someone-else", body, now=NOW))
    assert rejected(lambda: webhook.verify(headers, body, SECRET, NOW, TOLERANCE)).status == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)], ids=["old", "future"])
def test_stale_timestamps_are_401_even_when_correctly_signed(offset: timedelta) -> None:
    body = raw(documented_created())
    headers = lower(webhook.sign(SECRET, body, now=NOW + offset))
    error = rejected(lambda: webhook.verify(headers, body, SECRET, NOW, TOLERANCE))
    assert error.status == 401 and "stale timestamp" in error.reason


def test_timestamp_just_inside_the_tolerance_is_accepted() -> None:
    body = raw(documented_created())
    headers = lower(webhook.sign(SECRET, body, now=NOW - TOLERANCE + timedelta(seconds=1)))
    webhook.verify(headers, body, SECRET, NOW, TOLERANCE)


# --- event subscriptions -----------------------------------------------------------------------------


def parse(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Event | Ignored:
    headers = headers or {}
    return webhook.parse(headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=NOW)


def test_documented_ticket_created_event() -> None:
    event = parse(documented_created())
    assert isinstance(event, Event)
    assert (event.kind, event.ticket_id, event.source) == (EventKind.TICKET_CREATED, "5158", "event_subscription")
    assert event.delivery_id == "event:cbe4028c-7239-495d-b020-f22348516046"
    assert event.actor.id == "8447388090494" and event.actor.role is Role.CUSTOMER  # the requester opened it
    assert event.occurred_at == datetime(2025, 1, 8, 10, 12, 7, 672717, tzinfo=UTC)  # nanoseconds cut to micro


def test_same_event_redelivered_has_the_same_delivery_id() -> None:
    """Zendesk may invoke a webhook twice for one action; the event id is what deduplicates it."""
    first = webhook.delivery_id({"x-zendesk-webhook-invocation-id": "A"}, documented_created())
    again = webhook.delivery_id({"x-zendesk-webhook-invocation-id": "B"}, documented_created())
    assert first == again


@pytest.mark.parametrize(
    ("author", "public", "role"),
    [
        ({"id": "301", "is_staff": False, "name": "Cathy"}, True, Role.CUSTOMER),
        ({"id": "101", "is_staff": True}, False, Role.AGENT),
    ],
)
def test_comment_added_event_carries_author_role_and_visibility(
    author: dict[str, Any], public: bool, role: Role
) -> None:
    payload = documented_created()
    payload["type"] = "zen:event-type:ticket.comment_added"
    payload["event"] = {"comment": {"id": "9", "body": "Hi", "is_public": public, "author": author}}
    event = parse(payload)
    assert isinstance(event, Event)
    assert event.kind is EventKind.COMMENT_ADDED
    assert (event.actor.id, event.actor.role, event.comment_public) == (author["id"], role, public)


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("ticket.status_changed", EventKind.STATUS_CHANGED),
        ("ticket.agent_assignment_changed", EventKind.ASSIGNEE_CHANGED),
        ("ticket.soft_deleted", EventKind.TICKET_DELETED),
        ("ticket.tags_changed", EventKind.TICKET_UPDATED),
        ("ticket.priority_changed", EventKind.TICKET_UPDATED),
    ],
)
def test_other_ticket_events_map_to_kinds(event_type: str, kind: EventKind) -> None:
    payload = documented_created()
    payload["type"] = f"zen:event-type:{event_type}"
    payload["detail"]["actor_id"] = "101"  # an agent, not the requester
    event = parse(payload)
    assert isinstance(event, Event) and event.kind is kind and event.actor.role is Role.AGENT


def test_real_recorded_user_event_is_ignored_with_its_type() -> None:
    """The body of a real signed delivery recorded from Zendesk (a user event, not a ticket event)."""
    payload = {
        "account_id": 18525119,
        "detail": {"id": "6164069643162", "role": "end-user"},
        "event": {},
        "id": "b3695d61-2ef4-4e9c-97af-1f065c099564",
        "subject": "zen:user:6164069643162",
        "time": "2023-09-18T23:30:03Z",
        "type": "zen:event-type:user.deleted",
        "zendesk_event_version": "2022-11-06",
    }
    result = parse(payload)
    assert result == Ignored("zendesk event type user.deleted is not handled")


@pytest.mark.parametrize("detail", [{}, {"id": None}, {"id": "abc"}, "5158"], ids=["no-id", "null", "text", "not-obj"])
def test_ticket_event_without_a_ticket_id_is_400(detail: Any) -> None:
    payload = documented_created()
    payload["detail"] = detail
    assert rejected(lambda: parse(payload)).status == 400


# --- trigger / automation template -------------------------------------------------------------------


def test_template_body_from_a_customer() -> None:
    headers = {"x-zendesk-webhook-invocation-id": "01HANA2B5D5W9XSJS3NE5SQA1J"}
    event = parse(rendered_trigger(event="comment_added"), headers)
    assert isinstance(event, Event)
    assert (event.kind, event.ticket_id, event.source) == (EventKind.COMMENT_ADDED, "77", "trigger")
    assert (event.actor.id, event.actor.role, event.comment_public) == ("301", Role.CUSTOMER, True)
    assert event.delivery_id == "invocation:01HANA2B5D5W9XSJS3NE5SQA1J"
    assert event.occurred_at == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)


def test_template_role_tells_a_cc_d_customer_from_an_agent() -> None:
    """A customer who is only CC'd is not the requester, yet must count as the customer."""
    cc = parse(rendered_trigger(actor_id="302", actor_role="end-user"))
    admin = parse(rendered_trigger(actor_id="1", actor_role="admin"))
    agent = parse(rendered_trigger(actor_id="101", actor_role="agent", comment_public="false"))
    assert isinstance(cc, Event) and cc.actor.role is Role.CUSTOMER
    assert isinstance(admin, Event) and admin.actor.role is Role.AGENT
    assert isinstance(agent, Event) and agent.actor.role is Role.AGENT and agent.comment_public is False


def test_template_without_role_falls_back_to_requester_comparison() -> None:
    requester = parse(rendered_trigger(actor_role=""))
    other = parse({k: v for k, v in rendered_trigger(actor_id="101").items() if k != "actor_role"})
    assert isinstance(requester, Event) and requester.actor.role is Role.CUSTOMER
    assert isinstance(other, Event) and other.actor.role is Role.AGENT


def test_template_delivery_id_without_invocation_header_is_a_stable_hash() -> None:
    payload = rendered_trigger()
    later = rendered_trigger(updated_at="2026-11-23T12:05Z")
    assert webhook.delivery_id({}, payload) == webhook.delivery_id({}, dict(payload))
    assert webhook.delivery_id({}, payload) != webhook.delivery_id({}, later)
    assert webhook.delivery_id({}, payload).startswith("template:")


def test_unknown_template_event_is_ignored() -> None:
    result = parse(rendered_trigger(event="ticket_exploded"))
    assert isinstance(result, Ignored) and "ticket_exploded" in result.reason


@pytest.mark.parametrize(
    "payload",
    [
        {"helpdesk_bot": "1", "event": "ticket_created"},
        {"helpdesk_bot": "1", "ticket_id": "{{ticket.id}}"},
        {"helpdesk_bot": "1", "ticket_id": ""},
        {"helpdesk_bot": "1", "ticket_id": True},
        {"hello": "world"},
        {"type": "something-else", "id": "x"},
    ],
    ids=["no-ticket", "unrendered", "empty", "bool", "unknown-body", "unknown-type"],
)
def test_malformed_bodies_are_400(payload: dict[str, Any]) -> None:
    assert rejected(lambda: parse(payload)).status == 400
