"""Which chat service an incoming-webhook URL belongs to: read by the policy (to validate `chat.webhooks`)
and by the chat connector (to shape the payload), so both agree on the two shapes it knows."""

from __future__ import annotations

from urllib.parse import urlsplit

SLACK = "slack"
GOOGLE_CHAT = "google_chat"


def chat_service(url: str) -> str:
    """`slack` or `google_chat`, from the webhook URL's path (so a sandbox URL is read the same way):
    Slack's are `/services/T…/B…/…`, Google Chat's `/v1/spaces/{space}/messages`."""
    path = urlsplit(url).path
    if path.startswith("/services/"):
        return SLACK
    if path.startswith("/v1/spaces/") and path.endswith("/messages"):
        return GOOGLE_CHAT
    raise ValueError("not a Slack (/services/…) or Google Chat (/v1/spaces/…/messages) incoming-webhook URL")
