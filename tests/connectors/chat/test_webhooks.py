"""Chat alerts through Slack and Google Chat incoming webhooks, against the chat sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.domain.errors import InvalidRequest, NotFound, RateLimited, Unavailable
from connectors.chat.sandbox import ChatSandbox
from connectors.chat.webhooks import ChatNotifier
from connectors.sandbox_kit import make_app
from connectors.sandboxes import build
from tests.conftest import ServedApp


@pytest.fixture
def chat(serve: type[ServedApp]) -> Iterator[tuple[ChatSandbox, str]]:
    """The whole sandbox server, so the chat fake is checked beside Salesforce's `/services` routes."""
    app, fakes = build(seed=True)
    served = serve(app)
    yield fakes["chat"], served.url  # type: ignore[misc]


def notifier(url: str) -> ChatNotifier:
    return ChatNotifier(
        {
            "alerts": f"{url}/services/T0001/B0001/secretsecret",
            "escalations": f"{url}/v1/spaces/AAAA/messages?key=k&token=t",
        }
    )


def posts(url: str) -> list[dict[str, Any]]:
    return list(requests.get(f"{url}/_sandbox/chat/posts", timeout=10).json())


def test_slack_gets_a_text_payload_and_the_sandbox_records_it(chat: tuple[ChatSandbox, str]) -> None:
    _, url = chat
    posted = notifier(url).post("alerts", "Escalated: https://acme.zendesk.com/agent/tickets/42")
    assert (posted.service, posted.message_name) == ("slack", None)
    [post] = posts(url)
    assert post["service"] == "slack" and post["channel"] == "T0001/B0001"
    assert post["body"] == {"text": "Escalated: https://acme.zendesk.com/agent/tickets/42"}


def test_google_chat_threads_a_ticket_s_alerts(chat: tuple[ChatSandbox, str]) -> None:
    _, url = chat
    chat_ = notifier(url)
    first = chat_.post("escalations", "SD-1 breached its SLA", thread_key="jira-SD-1")
    second = chat_.post("escalations", "SD-1 moved to escalations", thread_key="jira-SD-1")
    assert first.service == "google_chat" and first.message_name and first.message_name != second.message_name
    recorded = posts(url)
    assert [p["thread"] for p in recorded] == ["jira-SD-1", "jira-SD-1"]
    assert recorded[0]["body"] == {"text": "SD-1 breached its SLA", "thread": {"threadKey": "jira-SD-1"}}


def test_a_rate_limited_webhook_says_how_long_to_wait(chat: tuple[ChatSandbox, str]) -> None:
    sandbox, url = chat
    sandbox.control.fail_next(1, 429, retry_after=1)
    with pytest.raises(RateLimited) as caught:
        notifier(url).post("alerts", "x")
    assert caught.value.retry_after == 1 and posts(url) == []


def test_errors_are_connector_errors_and_never_show_the_webhook_secret(chat: tuple[ChatSandbox, str]) -> None:
    sandbox, url = chat
    sandbox.control.fail_next(1, 404, body={"error": {"code": 404, "message": "channel_not_found"}})
    with pytest.raises(NotFound, match="channel_not_found") as caught:
        notifier(url).post("alerts", "x")
    assert "secretsecret" not in str(caught.value)
    with pytest.raises(InvalidRequest, match="no chat channel 'nope'"):
        notifier(url).post("nope", "x")
    with pytest.raises(InvalidRequest):  # Slack's own plain-text answer to an empty message
        notifier(url).post("alerts", "")
    down = ChatNotifier({"alerts": "http://127.0.0.1:9/services/T/B/secretsecret"}, timeout=2)
    with pytest.raises(Unavailable) as unreachable:
        down.post("alerts", "x")
    assert "secretsecret" not in str(unreachable.value)


def test_a_url_that_is_no_incoming_webhook_is_refused_up_front() -> None:
    with pytest.raises(InvalidRequest, match=r"chat.webhooks.alerts"):
        ChatNotifier({"alerts": "https://example.com/hook"})


def test_the_chat_fake_answers_like_slack_and_google(serve: type[ServedApp]) -> None:
    sandbox = ChatSandbox()
    url = serve(make_app([sandbox.blueprints()])).url
    bad = requests.post(f"{url}/services/T/B/x", data="not json", timeout=10)
    assert (bad.status_code, bad.text) == (400, "invalid_payload")
    unauth = requests.post(f"{url}/v1/spaces/S/messages", json={"text": "x"}, timeout=10)
    assert unauth.status_code == 401 and unauth.json()["error"]["status"] == "UNAUTHENTICATED"
