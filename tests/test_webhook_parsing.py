"""Each desk's webhook module on its own: every real fixture body parses, both body styles, both auth styles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.events import Event, EventKind
from bot.domain.tickets import Role
from connectors.jira import webhook as jira
from connectors.webhook_kit import Ignored, WebhookRejected
from connectors.zendesk import webhook as zendesk
from tests.conftest import FIXTURES

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
JIRA_FIXTURES = sorted((FIXTURES / "jira" / "webhooks").glob("*.json"))


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("path", JIRA_FIXTURES, ids=lambda p: p.stem)
def test_every_real_jira_body_parses_into_an_event_or_a_reasoned_ignore(path: Path) -> None:
    body = path.read_bytes()
    headers = lower(jira.sign("s", body))
    jira.verify(headers, body, "s", NOW, TOLERANCE)
    payload = json.loads(body)
    result = jira.parse(headers, payload, delivery_id=jira.delivery_id(headers, payload), received_at=NOW)
    if isinstance(result, Ignored):
        assert "not handled" in result.reason
    else:
        assert isinstance(result, Event)
        assert "-" in result.ticket_id or result.ticket_id.isdigit()  # a key, or an issue id (Server comments)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("webhook-issue-created", EventKind.TICKET_CREATED),
        ("webhook-issue-updated-resolved", EventKind.STATUS_CHANGED),
        ("webhook-issue-updated-assigned", EventKind.ASSIGNEE_CHANGED),
        ("webhook-issue-updated-labels", EventKind.TICKET_UPDATED),
        ("webhook-cloud-comment-created", EventKind.COMMENT_ADDED),
        ("webhook-server-old-issue-updated-no-event-type-commented", EventKind.COMMENT_ADDED),
    ],
)
def test_jira_event_kinds(name: str, kind: EventKind) -> None:
    payload = json.loads((FIXTURES / "jira" / "webhooks" / f"{name}.json").read_text())
    event = jira.parse({}, payload, delivery_id="d", received_at=NOW)
    assert isinstance(event, Event) and event.kind is kind


def test_jira_comment_visibility_and_author() -> None:
    payload = json.loads((FIXTURES / "jira" / "webhooks" / "webhook-cloud-comment-created.json").read_text())
    payload["comment"]["jsdPublic"] = False
    payload["comment"]["author"]["accountType"] = "customer"
    event = jira.parse({}, payload, delivery_id="d", received_at=NOW)
    assert isinstance(event, Event)
    assert event.comment_public is False and event.actor.role is Role.CUSTOMER


def test_a_data_center_actor_is_known_by_name_not_key() -> None:
    """The bot's own id on Data Center is its `name` (`myself`), so an echo of its change is recognised by it."""
    payload = json.loads((FIXTURES / "jira" / "webhooks" / "webhook-server-issue-updated-commented-2.json").read_text())
    assert (payload["user"]["key"], payload["user"]["name"]) == ("testUser", "TestUser")
    event = jira.parse({}, payload, delivery_id="d", received_at=NOW)
    assert isinstance(event, Event) and event.actor.id == "TestUser"


def test_jira_redelivery_keeps_its_identifier() -> None:
    headers = {"x-atlassian-webhook-identifier": "abc-1"}
    assert jira.delivery_id(headers, {"a": 1}) == jira.delivery_id(headers, {"a": 2}) == "delivery:abc-1"
    assert jira.delivery_id({}, {"a": 1}) == jira.delivery_id({}, {"a": 1}) != jira.delivery_id({}, {"a": 2})


@pytest.mark.parametrize(
    "headers",
    [{"x-automation-webhook-token": "s3cret"}, {"authorization": "Bearer s3cret"}],
)
def test_jira_automation_requests_authenticate_with_the_shared_secret(headers: dict[str, str]) -> None:
    body = json.dumps({"helpdesk_bot": "1", "event": "ticket_created", "issue": "SD-7", "actor": "cust-1"}).encode()
    jira.verify(headers, body, "s3cret", NOW, TOLERANCE)
    with pytest.raises(WebhookRejected) as caught:
        jira.verify({k: v.replace("s3cret", "guess") for k, v in headers.items()}, body, "s3cret", NOW, TOLERANCE)
    assert caught.value.status == 401
    event = jira.parse(headers, json.loads(body), delivery_id="d", received_at=NOW)
    assert isinstance(event, Event) and event.ticket_id == "SD-7" and event.source == "automation"


def test_jira_body_without_issue_key_is_400() -> None:
    with pytest.raises(WebhookRejected) as caught:
        jira.parse({}, {"webhookEvent": "jira:issue_created", "issue": {}}, delivery_id="d", received_at=NOW)
    assert caught.value.status == 400 and "issue.key" in caught.value.reason


def test_zendesk_signature_follows_the_documented_algorithm() -> None:
    """Vector computed from the documented formula base64(HMAC(secret, timestamp + body))."""
    body = b'{"ticket_id": "123", "status": "open"}'
    headers = lower(
        zendesk.sign(
            "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==", body, now=datetime(2023, 9, 18, 23, 38, 13, tzinfo=UTC)
        )
    )
    assert headers["x-zendesk-webhook-signature"] == "cFKu8AYeOxFWDigQDWwkszQf3l1DqpPO9WlQG+IPems="
    assert headers["x-zendesk-webhook-signature-timestamp"] == "2023-09-18T23:38:13Z"


def test_zendesk_event_subscription_body() -> None:
    payload = json.loads((FIXTURES / "zendesk" / "webhooks" / "ticket.created__documented_example.json").read_text())
    delivery = zendesk.delivery_id({}, payload)
    event = zendesk.parse({}, payload, delivery_id=delivery, received_at=NOW)
    assert isinstance(event, Event)
    assert (event.kind, event.ticket_id, event.source) == (EventKind.TICKET_CREATED, "5158", "event_subscription")
    assert delivery == "event:cbe4028c-7239-495d-b020-f22348516046"
    assert event.actor.id == "8447388090494" and event.actor.role is Role.CUSTOMER  # actor is the requester


def test_zendesk_comment_event_carries_author_and_visibility() -> None:
    payload = json.loads((FIXTURES / "zendesk" / "webhooks" / "ticket.created__documented_example.json").read_text())
    payload["type"] = "zen:event-type:ticket.comment_added"
    payload["event"] = {
        "comment": {"id": "9", "body": "hi", "is_public": False, "author": {"id": "42", "is_staff": True}}
    }
    event = zendesk.parse({}, payload, delivery_id="d", received_at=NOW)
    assert isinstance(event, Event)
    assert event.kind is EventKind.COMMENT_ADDED and event.comment_public is False
    assert event.actor.id == "42" and event.actor.role is Role.AGENT


def test_zendesk_trigger_template_body() -> None:
    rendered = zendesk.TRIGGER_TEMPLATE.replace("{{ticket.id}}", "77").replace("{{current_user.id}}", "301")
    rendered = rendered.replace("{{ticket.requester.id}}", "301").replace("{{ticket.updated_at_with_timestamp}}", "x")
    rendered = rendered.replace("{{ticket.latest_comment.is_public}}", "true")
    payload = json.loads(rendered)
    headers = {"x-zendesk-webhook-invocation-id": "01HANA2B5D5W9XSJS3NE5SQA1J"}
    event = zendesk.parse(headers, payload, delivery_id=zendesk.delivery_id(headers, payload), received_at=NOW)
    assert isinstance(event, Event)
    assert (event.kind, event.ticket_id, event.source) == (EventKind.TICKET_CREATED, "77", "trigger")
    assert event.actor.role is Role.CUSTOMER and event.comment_public is True
    assert event.delivery_id == "invocation:01HANA2B5D5W9XSJS3NE5SQA1J"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"type": "zen:event-type:user.deleted", "detail": {"id": "6"}}, Ignored),
        ({"helpdesk_bot": "1", "event": "ticket_exploded", "ticket_id": "5"}, Ignored),
        ({"type": "zen:event-type:ticket.created", "detail": {}}, WebhookRejected),
        ({"helpdesk_bot": "1", "ticket_id": "{{ticket.id}}"}, WebhookRejected),
        ({"hello": "world"}, WebhookRejected),
    ],
)
def test_zendesk_unhandled_and_malformed(payload: dict[str, object], expected: type) -> None:
    if expected is WebhookRejected:
        with pytest.raises(WebhookRejected) as caught:
            zendesk.parse({}, payload, delivery_id="d", received_at=NOW)
        assert caught.value.status == 400
    else:
        assert isinstance(zendesk.parse({}, payload, delivery_id="d", received_at=NOW), Ignored)


def test_zendesk_unparseable_timestamp_is_401() -> None:
    body = b"{}"
    headers = lower(zendesk.sign("s", body))
    headers["x-zendesk-webhook-signature-timestamp"] = "yesterday"
    with pytest.raises(WebhookRejected) as caught:
        zendesk.verify(headers, body, "s", NOW, TOLERANCE)
    assert caught.value.status == 401
