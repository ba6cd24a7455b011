"""Post a message to a chat channel through its incoming webhook (Slack or Google Chat).

The policy names channels (`chat.webhooks: {alerts: <url>}`); which service a URL belongs to is read
from its path, which is the same on the real services and on the sandbox: Slack webhooks are
`/services/T…/B…/…` and take `{"text": …}`, answering `ok` in plain text; Google Chat webhooks are
`/v1/spaces/{space}/messages?key=…&token=…` and take a `Message` (`{"text": …}`, optionally in a thread
named by `thread.threadKey` with `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`), answering
the created message as JSON. Neither is retried here: a 429 becomes `RateLimited` with the service's
`Retry-After` (Slack sends one, Google asks for backoff), so the task layer waits it out, and errors
(Slack's are plain-text codes like `channel_not_found`) become the connector errors of `connectors.base`.
The webhook URL is a secret (it is the credential): it never appears in an error or log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from bot.domain.chat import GOOGLE_CHAT, SLACK, chat_service
from bot.domain.errors import InvalidRequest, Unavailable
from connectors.http import error_for_status

SLACK_LIMIT = 40_000
"""Characters of text Slack takes in one message; longer text is cut (with an ellipsis) rather than refused."""
GOOGLE_CHAT_LIMIT = 32_000
"""Bytes of one Google Chat message."""


@dataclass(frozen=True)
class Posted:
    channel: str
    service: str
    """`slack` or `google_chat`."""
    message_name: str | None = None
    """Google Chat's name for the message (`spaces/…/messages/…`); Slack's webhooks return none."""


class ChatNotifier:
    """Posts to the channels of the policy's `chat.webhooks`."""

    def __init__(self, webhooks: Mapping[str, str], timeout: float = 10.0, session: requests.Session | None = None):
        for name, url in webhooks.items():
            try:
                chat_service(url)
            except ValueError as exc:
                raise InvalidRequest(f"chat.webhooks.{name}: {exc}") from exc
        self.webhooks = dict(webhooks)
        self.timeout = timeout
        self.session = session or requests.Session()

    def post(self, channel: str, text: str, *, thread_key: str | None = None) -> Posted:
        """Post `text` to `channel`; `thread_key` (e.g. `ticket-42`) keeps a ticket's alerts in one Google
        Chat thread (Slack's incoming webhooks cannot thread)."""
        url = self.webhooks.get(channel)
        if url is None:
            known = ", ".join(sorted(self.webhooks)) or "none"
            raise InvalidRequest(f"no chat channel {channel!r} in chat.webhooks (known: {known})")
        service = chat_service(url)
        params: dict[str, str] = {}
        if service == SLACK:
            body: dict[str, Any] = {"text": _cut(text, SLACK_LIMIT)}
        else:
            body = {"text": _cut_bytes(text, GOOGLE_CHAT_LIMIT - 200)}
            if thread_key:
                body["thread"] = {"threadKey": thread_key}
                params["messageReplyOption"] = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        what = f"POST {service} webhook {channel!r}"
        try:
            resp = self.session.post(_with_params(url, params), json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}") from None  # the exception text holds the URL
        if resp.status_code >= 300:
            raise error_for_status(resp.status_code, resp.headers, _error_text(resp), what)
        name = None
        if service == GOOGLE_CHAT:
            try:
                name = (resp.json() or {}).get("name")
            except ValueError:
                name = None
        return Posted(channel, service, name)


def _with_params(url: str, params: Mapping[str, str]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _error_text(resp: requests.Response) -> Any:
    """Slack answers errors in plain text (`invalid_payload`), Google in JSON (`{"error": {"message"}}`)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    error = body.get("error") if isinstance(body, Mapping) else None
    return {"error": str(error.get("message") or error.get("status"))} if isinstance(error, Mapping) else body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode(errors="ignore") + "…"
