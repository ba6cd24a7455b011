"""Webhook intake over HTTP: real fixture payloads, valid signatures, every rejection, dedupe, echoes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.config import Settings
from bot.eventlog import EventLog, State
from connectors import webhook_module
from tests.conftest import FIXTURES, TEST_REDIS_URL

SECRETS = {"zendesk": "zd-secret-ünïcode", "jira": "jira-secret"}
ZD_CREATED = FIXTURES / "zendesk" / "webhooks" / "ticket.created__documented_example.json"
JIRA_CREATED = FIXTURES / "jira" / "webhooks" / "webhook-issue-created.json"


def make_settings(prefix: str, home: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": TEST_REDIS_URL,
        "zendesk_url": "https://acme.zendesk.com",
        "zendesk_email": "bot@example.com",
        "zendesk_api_token": "t",
        "zendesk_webhook_secret": SECRETS["zendesk"],
        "jira_url": "https://acme.atlassian.net",
        "jira_email": "bot@example.com",
        "jira_api_token": "t",
        "jira_webhook_secret": SECRETS["jira"],
        "helpdesk_bot_key_prefix": prefix,
        "helpdesk_bot_home": home,
    }
    return Settings(**{**values, **extra})


@pytest.fixture
def client(redis_prefix: str, tmp_path: Path) -> Iterator[FlaskClient]:
    app = create_app(make_settings(redis_prefix, tmp_path, helpdesk_bot_max_body_bytes=1_000_000))
    with app.test_client() as c:
        yield c


@pytest.fixture
def log(redis_prefix: str) -> EventLog:
    import redis

    return EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)


def fresh(desk: str, path: Path) -> bytes:
    """The fixture body made unique (a new delivery), so each test's events are its own."""
    payload = json.loads(path.read_text())
    if desk == "zendesk":
        payload["id"] = str(uuid.uuid4())
    else:
        payload["timestamp"] = int(datetime.now(UTC).timestamp() * 1000)
    return json.dumps(payload).encode()


def post(
    c: FlaskClient, desk: str, body: bytes, *, secret: str | None = None, now: datetime | None = None, **headers: str
) -> Any:
    signed = webhook_module(desk).sign(secret or SECRETS[desk], body, now=now)
    all_headers = {"Content-Type": "application/json", **signed, **headers}
    return c.post(f"/webhooks/{desk}", data=body, headers=all_headers)


@pytest.mark.parametrize(("desk", "fixture"), [("zendesk", ZD_CREATED), ("jira", JIRA_CREATED)])
def test_signed_fixture_is_accepted_and_recorded(client: FlaskClient, log: EventLog, desk: str, fixture: Path) -> None:
    resp = post(client, desk, fresh(desk, fixture))
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "queued"
    record = log.get(resp.json["event_id"])
    assert record is not None and record.state is State.QUEUED
    assert record.event.desk == desk and record.event.kind.value == "ticket_created"
    assert record.event.ticket_id


@pytest.mark.parametrize(("desk", "fixture"), [("zendesk", ZD_CREATED), ("jira", JIRA_CREATED)])
def test_redelivery_is_a_duplicate(client: FlaskClient, desk: str, fixture: Path) -> None:
    body = fresh(desk, fixture)
    extra = {"X-Atlassian-Webhook-Identifier": str(uuid.uuid4())} if desk == "jira" else {}
    first = post(client, desk, body, **extra)
    second = post(client, desk, body, **extra)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json == {"status": "duplicate", "event_id": first.json["event_id"]}


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_wrong_secret_is_401_and_nothing_recorded(client: FlaskClient, log: EventLog, desk: str) -> None:
    fixture = ZD_CREATED if desk == "zendesk" else JIRA_CREATED
    resp = post(client, desk, fresh(desk, fixture), secret="not-the-secret")
    assert resp.status_code == 401
    assert resp.json["status"] == "rejected" and resp.json["reason"]
    assert log.query(limit=10) == []


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_missing_signature_is_401(client: FlaskClient, desk: str) -> None:
    resp = client.post(f"/webhooks/{desk}", data=b"{}", headers={"Content-Type": "application/json"})
    assert resp.status_code == 401


def test_tampered_body_is_401(client: FlaskClient) -> None:
    body = fresh("zendesk", ZD_CREATED)
    headers = webhook_module("zendesk").sign(SECRETS["zendesk"], body)
    resp = client.post(
        "/webhooks/zendesk",
        data=body.replace(b"}", b' , "x": 1}', 1),
        headers={"Content-Type": "application/json", **headers},
    )
    assert resp.status_code == 401


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_zendesk_timestamp_is_401(client: FlaskClient, skew: timedelta) -> None:
    resp = post(client, "zendesk", fresh("zendesk", ZD_CREATED), now=datetime.now(UTC) + skew)
    assert resp.status_code == 401
    assert "timestamp" in resp.json["reason"]


def test_desk_without_secret_refuses_everything(redis_prefix: str, tmp_path: Path) -> None:
    app = create_app(make_settings(redis_prefix, tmp_path, zendesk_webhook_secret=None))
    body = fresh("zendesk", ZD_CREATED)
    resp = post(app.test_client(), "zendesk", body)
    assert resp.status_code == 401
    assert "no webhook secret" in resp.json["reason"]


def test_five_megabyte_body_is_413(client: FlaskClient) -> None:
    body = b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    resp = post(client, "zendesk", body)
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b'["a", "list"]', "must be an object"),
        (b'"just a string"', "must be an object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000, "JSON"),
    ],
)
def test_malformed_body_is_400_with_reason(client: FlaskClient, body: bytes, reason: str) -> None:
    resp = post(client, "zendesk", body)
    assert resp.status_code == 400
    assert reason in resp.json["reason"]


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    body = fresh("zendesk", ZD_CREATED)
    resp = post(client, "zendesk", body, **{"Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_unknown_desk_is_404(client: FlaskClient) -> None:
    resp = client.post("/webhooks/freshdesk", data=b"{}", headers={"Content-Type": "application/json"})
    assert resp.status_code == 404


def test_unicode_payload_round_trips(client: FlaskClient, log: EventLog) -> None:
    payload = json.loads(ZD_CREATED.read_text())
    payload["id"] = str(uuid.uuid4())
    payload["detail"]["subject"] = "Überweisung fehlgeschlagen — 支払い 🚨"
    body = json.dumps(payload, ensure_ascii=False).encode()
    resp = post(client, "zendesk", body)
    assert resp.status_code == 202
    record = log.get(resp.json["event_id"])
    assert record is not None
    assert record.event.payload["detail"]["subject"] == "Überweisung fehlgeschlagen — 支払い 🚨"


def test_bot_echo_is_ignored(client: FlaskClient, log: EventLog, redis_prefix: str) -> None:
    """A change made by the bot's own user comes back as a webhook: recorded as ignored, never queued."""
    import redis

    payload = json.loads(ZD_CREATED.read_text())
    payload["id"] = str(uuid.uuid4())
    actor_id = "987654321"
    payload["detail"]["actor_id"] = actor_id
    redis.Redis.from_url(TEST_REDIS_URL).sadd(f"{redis_prefix}bot-ids:zendesk", actor_id)
    resp = post(client, "zendesk", json.dumps(payload).encode())
    assert resp.status_code == 200, resp.json
    assert resp.json["status"].startswith("ignored")
    record = log.get(resp.json["event_id"])
    assert record is not None and record.state is State.IGNORED


def test_rejections_are_counted_in_metrics(client: FlaskClient) -> None:
    post(client, "jira", fresh("jira", JIRA_CREATED), secret="wrong")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'helpdesk_bot_webhook_rejections_total{desk="jira",reason="signature"}' in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    desk=st.sampled_from(["zendesk", "jira", "other"]),
    body=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    signed=st.booleans(),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
)
def test_no_input_makes_the_receiver_fail(
    client: FlaskClient, desk: str, body: bytes, signed: bool, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    if signed and desk in SECRETS:
        headers.update(webhook_module(desk).sign(SECRETS[desk], body))
    resp = client.post(f"/webhooks/{desk}", data=body, headers=headers)
    assert resp.status_code < 500, resp.get_data(as_text=True)
    assert resp.is_json


def test_signed_but_unreadable_delivery_is_kept_for_inspection(
    client: FlaskClient, redis_prefix: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    post(client, "zendesk", b'{"hello": "world"}')
    post(client, "zendesk", b"not json", secret="wrong")  # unsigned junk is never kept
    env = dict(
        os.environ, REDIS_URL=TEST_REDIS_URL, HELPDESK_BOT_KEY_PREFIX=redis_prefix, HELPDESK_BOT_HOME=str(tmp_path)
    )
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rejected", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 1
    kept = json.loads(out[0])
    assert kept["desk"] == "zendesk" and "not a Zendesk webhook body" in kept["reason"]
    assert json.loads(kept["body"]) == {"hello": "world"}
    assert "x-zendesk-webhook-signature" in kept["headers"]


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
