"""Jira webhook module: what the bot makes of every real delivery body, and which deliveries it refuses.

The bodies are real captures (Cloud and Server, admin webhooks); the expectations are what a person
watching the bot would see: which event kind a change becomes, on which ticket, caused by whom, and the
HTTP status Jira gets back for a forged, unsigned or malformed delivery.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.events import Event, EventKind
from bot.domain.tickets import Role
from connectors.jira import webhook
from connectors.webhook_kit import Ignored, WebhookRejected
from tests.conftest import FIXTURES

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
BODIES = FIXTURES / "jira" / "webhooks"
SECRET = "It's a Secret to Everybody"


def lower(headers: dict[str, str]) -> dict[str, str]:
    """Intake hands headers over lower-cased (bot/webhooks.py), whatever case the sender used."""
    return {k.lower(): v for k, v in headers.items()}


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((BODIES / f"webhook-{name}.json").read_text()))


def parse(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Event | Ignored:
    headers = headers or {}
    return webhook.parse(headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=NOW)


def event(payload: dict[str, Any]) -> Event:
    result = parse(payload)
    assert isinstance(result, Event), result
    return result


@pytest.mark.parametrize("path", sorted(BODIES.glob("*.json")), ids=lambda p: p.stem)
def test_every_real_body_is_accepted_with_its_signature_and_becomes_an_event_or_a_reasoned_ignore(path: Path) -> None:
    body = path.read_bytes()
    headers = lower(webhook.sign(SECRET, body))
    webhook.verify(headers, body, SECRET, NOW, TOLERANCE)
    result = parse(json.loads(body), headers)
    if isinstance(result, Ignored):
        assert result.reason.startswith("jira event type ") and result.reason.endswith(" is not handled")
    else:
        assert result.desk == "jira" and result.source == "webhook"
        assert result.ticket_id and (result.ticket_id.isdigit() or "-" in result.ticket_id)
        assert result.delivery_id == f"delivery:{headers['x-atlassian-webhook-identifier']}"
        assert result.occurred_at is not None and result.occurred_at.year >= 2015


@pytest.mark.parametrize(
    ("name", "kind", "ticket"),
    [
        ("issue-created", EventKind.TICKET_CREATED, "TES-41"),
        ("cloud-issue-created-many-fields", EventKind.TICKET_CREATED, "KT-22"),
        ("issue-updated-resolved", EventKind.STATUS_CHANGED, "TES-41"),
        ("issue-updated-reopened", EventKind.STATUS_CHANGED, "TES-41"),
        ("issue-updated-started-working", EventKind.STATUS_CHANGED, "TES-41"),
        # A workflow that resolves without changing status still closes the customer's request.
        ("issue-updated-resolved-one-changelog", EventKind.STATUS_CHANGED, "TES-41"),
        ("issue-updated-reopened-one-changelog", EventKind.STATUS_CHANGED, "TES-41"),
        ("server-issue-updated-closed", EventKind.STATUS_CHANGED, "TES-4"),
        ("issue-updated-assigned", EventKind.ASSIGNEE_CHANGED, "TES-41"),
        ("issue-updated-assigned-nobody", EventKind.ASSIGNEE_CHANGED, "TES-41"),
        ("issue-assigned-empty-changelog", EventKind.ASSIGNEE_CHANGED, "TEST-123"),
        ("issue-updated-assigned-on-server", EventKind.ASSIGNEE_CHANGED, "PRJA-37"),
        ("issue-updated-multiple-values", EventKind.ASSIGNEE_CHANGED, "TES-41"),
        ("issue-updated-labels", EventKind.TICKET_UPDATED, "TES-41"),
        ("issue-updated-raised-priority", EventKind.TICKET_UPDATED, "TES-41"),
        ("cloud-issue-updated-custom-field", EventKind.TICKET_UPDATED, "TES-14"),
        ("cloud-comment-created", EventKind.COMMENT_ADDED, "TES-41"),
        ("cloud-comment-created-mention-user", EventKind.COMMENT_ADDED, "TES-41"),
        ("cloud-comment-updated", EventKind.TICKET_UPDATED, "TES-41"),
        ("server-issue-updated-commented-1", EventKind.COMMENT_ADDED, "PRJX-14"),
        # An edited or deleted comment is no new message from anyone: an update, not a comment.
        ("server-issue-updated-comment-edited", EventKind.TICKET_UPDATED, "PRJX-14"),
        ("server-issue-updated-comment-deleted", EventKind.TICKET_UPDATED, "PRJX-14"),
        ("issue-deleted", EventKind.TICKET_DELETED, "IDT-19"),
        # Server comment events carry no issue, only the comment's URL with the issue id.
        ("server-comment-created", EventKind.COMMENT_ADDED, "10013"),
    ],
)
def test_each_change_becomes_the_event_kind_on_the_right_ticket(name: str, kind: EventKind, ticket: str) -> None:
    result = event(fixture(name))
    assert (result.kind, result.ticket_id) == (kind, ticket)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("server-old-issue-updated-no-event-type-commented", EventKind.COMMENT_ADDED),
        ("server-old-issue-updated-no-event-type-comment-edited", EventKind.TICKET_UPDATED),
        ("server-old-issue-updated-no-event-type-assigned", EventKind.ASSIGNEE_CHANGED),
        ("server-old-issue-updated-no-event-type-edited", EventKind.TICKET_UPDATED),
    ],
)
def test_old_server_bodies_without_an_event_type_name_are_understood(name: str, kind: EventKind) -> None:
    payload = fixture(name)
    assert "issue_event_type_name" not in payload
    assert event(payload).kind is kind


def test_old_server_bodies_without_webhook_event_fall_back_to_the_event_type_name() -> None:
    created = fixture("issue-created")
    del created["webhookEvent"]
    assert event(created).kind is EventKind.TICKET_CREATED
    resolved = fixture("server-issue-updated-resolved")
    del resolved["webhookEvent"]
    assert event(resolved).kind is EventKind.STATUS_CHANGED


@pytest.mark.parametrize("name", ["cloud-comment-deleted", "server-comment-deleted"])
def test_unhandled_event_types_are_ignored_with_the_type_named(name: str) -> None:
    assert parse(fixture(name)) == Ignored("jira event type comment_deleted is not handled")


def test_a_customer_comment_is_attributed_to_the_customer_and_keeps_its_visibility() -> None:
    payload = fixture("cloud-comment-created")
    payload["comment"]["author"] = {"accountId": "cust-cathy", "accountType": "customer", "displayName": "Cathy"}
    payload["comment"]["jsdPublic"] = True
    result = event(payload)
    assert (result.actor.id, result.actor.role, result.actor.name) == ("cust-cathy", Role.CUSTOMER, "Cathy")
    assert result.comment_public is True


def test_an_internal_note_by_an_agent_is_not_public() -> None:
    payload = fixture("cloud-comment-created")
    payload["comment"]["author"]["accountId"] = "agent-alice"
    payload["comment"]["jsdPublic"] = False
    result = event(payload)
    assert (result.actor.id, result.actor.role, result.comment_public) == ("agent-alice", Role.AGENT, False)


def test_issue_changes_are_attributed_to_the_user_who_made_them() -> None:
    result = event(fixture("issue-updated-assigned"))
    assert result.actor.id == "5c5f880629be9642ba529340" and result.actor.role is Role.AGENT
    assert event(fixture("issue-updated-assigned-on-server")).actor.id == "admin"  # Server: user name


# --- signatures ------------------------------------------------------------------------------------


def test_signed_headers_look_like_jira_and_each_delivery_gets_its_own_identifier() -> None:
    body = b'{"webhookEvent":"jira:issue_created"}'
    first, second = webhook.sign(SECRET, body), webhook.sign(SECRET, body)
    assert first["X-Hub-Signature"].startswith("sha256=") and len(first["X-Hub-Signature"]) == 7 + 64
    assert first["X-Hub-Signature"] == second["X-Hub-Signature"]
    assert first["X-Atlassian-Webhook-Identifier"] != second["X-Atlassian-Webhook-Identifier"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, b: ({**h, "x-hub-signature": "sha256=" + "0" * 64}, b), "does not match"),
        (lambda h, b: (h, b + b" "), "does not match"),  # one byte appended after signing
        (lambda h, b: ({**h, "x-hub-signature": h["x-hub-signature"].replace("sha256", "sha1")}, b), "sha256="),
        (lambda h, b: ({k: v for k, v in h.items() if k != "x-hub-signature"}, b), "missing"),
    ],
    ids=["forged", "tampered-body", "wrong-algorithm", "unsigned"],
)
def test_forged_tampered_or_unsigned_deliveries_are_refused_with_401(mutate: Any, reason: str) -> None:
    body = (BODIES / "webhook-issue-created.json").read_bytes()
    headers, sent = mutate(lower(webhook.sign(SECRET, body)), body)
    with pytest.raises(WebhookRejected) as refused:
        webhook.verify(headers, sent, SECRET, NOW, TOLERANCE)
    assert refused.value.status == 401 and reason in refused.value.reason


def test_a_signature_made_with_another_secret_is_refused() -> None:
    body = b"{}"
    with pytest.raises(WebhookRejected) as refused:
        webhook.verify(lower(webhook.sign("other", body)), body, SECRET, NOW, TOLERANCE)
    assert refused.value.status == 401


# --- JSM Automation "Send web request" -------------------------------------------------------------


def automation_body(**values: str) -> bytes:
    """The documented template as Jira Automation renders it for one rule run."""
    rendered = webhook.AUTOMATION_TEMPLATE
    for smart, value in {
        "{{issue.key}}": "SD-12",
        "{{initiator.accountId}}": "cust-cathy",
        "{{comment.internal}}": "false",
        "{{issue.updated}}": "2026-03-02T09:29:58.000+0000",
    }.items():
        rendered = rendered.replace(smart, value)
    payload = json.loads(rendered)
    payload.update(values)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "headers",
    [{"x-automation-webhook-token": SECRET}, {"authorization": f"Bearer {SECRET}"}],
    ids=["token-header", "bearer"],
)
def test_automation_requests_authenticate_with_the_shared_secret_in_either_header(headers: dict[str, str]) -> None:
    body = automation_body()
    webhook.verify(headers, body, SECRET, NOW, TOLERANCE)
    wrong = {k: v.replace(SECRET, SECRET[:-1] + "?") for k, v in headers.items()}
    with pytest.raises(WebhookRejected) as refused:
        webhook.verify(wrong, body, SECRET, NOW, TOLERANCE)
    assert refused.value.status == 401


def test_a_basic_auth_header_is_no_automation_token() -> None:
    with pytest.raises(WebhookRejected) as refused:
        webhook.verify({"authorization": f"Basic {SECRET}"}, b"{}", SECRET, NOW, TOLERANCE)
    assert refused.value.status == 401


def test_the_automation_template_becomes_an_event_of_the_rule_s_kind() -> None:
    result = event(json.loads(automation_body()))
    assert (result.kind, result.ticket_id, result.source) == (EventKind.COMMENT_ADDED, "SD-12", "automation")
    assert (result.actor.id, result.comment_public) == ("cust-cathy", True)
    internal = event(json.loads(automation_body(internal="true")))
    assert internal.comment_public is False
    created = event(json.loads(automation_body(event="ticket_created", actor_type="customer")))
    assert created.kind is EventKind.TICKET_CREATED and created.actor.role is Role.CUSTOMER
    assert created.comment_public is None


def test_an_automation_rule_with_an_unknown_event_name_is_ignored_not_failed() -> None:
    result = parse(json.loads(automation_body(event="sla_breached")))
    assert isinstance(result, Ignored) and "'sla_breached' is not handled" in result.reason


def test_an_automation_issue_data_body_is_an_update_of_that_issue() -> None:
    issue = fixture("issue-created")["issue"]
    result = event(issue)
    assert (result.kind, result.ticket_id, result.source) == (EventKind.TICKET_UPDATED, "TES-41", "automation")


# --- delivery ids (dedupe) -------------------------------------------------------------------------


def test_a_retried_delivery_keeps_its_identifier_and_so_its_event_id() -> None:
    payload = fixture("issue-created")
    headers = {"x-atlassian-webhook-identifier": "70f2b1f3-1", "x-atlassian-webhook-retry": "1"}
    first = webhook.parse(headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=NOW)
    later = NOW + timedelta(minutes=20)
    again = webhook.parse(headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=later)
    assert isinstance(first, Event) and isinstance(again, Event)
    assert first.id == again.id and first.delivery_id == "delivery:70f2b1f3-1"


def test_automation_deliveries_without_identifier_use_the_rule_s_id_or_the_body() -> None:
    body = json.loads(automation_body())
    assert webhook.delivery_id({}, body) == webhook.delivery_id({}, dict(body))
    assert webhook.delivery_id({}, body) != webhook.delivery_id({}, json.loads(automation_body(internal="true")))
    assert webhook.delivery_id({}, json.loads(automation_body(id="rule-7/42"))) == "automation:rule-7/42"


# --- malformed bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"webhookEvent": "jira:issue_created", "issue": {}},
        {"webhookEvent": "jira:issue_updated"},
        {"webhookEvent": "comment_created", "comment": {"id": "1", "self": "https://x/other"}},
        {"hello": "world"},
        {"helpdesk_bot": "1", "event": "ticket_created", "issue": ""},
        {"helpdesk_bot": "1", "event": "ticket_created", "issue": 12},
    ],
    ids=["issue-without-key", "no-issue", "comment-without-issue", "not-jira", "template-empty-key", "template-int"],
)
def test_a_body_without_a_ticket_reference_is_refused_with_400(payload: dict[str, Any]) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse(payload)
    assert refused.value.status == 400
