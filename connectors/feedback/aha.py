"""Feedback as Aha! ideas, over Aha!'s REST API v1 with `requests` (there is no maintained Python client).

A ticket's feedback becomes one idea in the configured product (`feedback.aha.product`): its subject as
the name, its text (HTML-escaped paragraphs), the customer as `created_by` and a link back to the ticket
in the description, tagged `helpdesk-bot` plus a tag naming the ticket (`helpdesk-bot-zendesk-42`).
That tag makes it idempotent: the product's ideas with that tag are looked up before one is created, so
a redelivered webhook, a replay or a worker killed after the create finds the idea instead of adding a
second one. (Two workers racing on one ticket cannot happen: runbooks run under the ticket's lock.)
Errors are the connector errors of `bot.domain.errors` (a 401 from Aha! is HTML, not JSON: `AuthError`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.domain.errors import InvalidRequest
from connectors.feedback.records import Feedback, Idea
from connectors.http import BearerAuth, JsonApi


@dataclass(frozen=True)
class AhaConfig:
    url: str
    """https://<account>.aha.io, or the sandbox's address."""
    api_key: str = field(repr=False)  # never in a log line or traceback
    product: str
    """Product key (APP) or numeric id."""
    tag: str = "helpdesk-bot"
    timeout: float = 10.0


class AhaIdeas:
    """Records feedback as ideas in one Aha! product."""

    label = "Aha!"

    def __init__(self, config: AhaConfig) -> None:
        self.config = config
        self.api = JsonApi(config.url.rstrip("/") + "/api/v1", BearerAuth(config.api_key), config.timeout)
        self.product = quote(config.product, safe="")

    def ticket_tag(self, feedback: Feedback) -> str:
        """The tag that names the ticket on its idea (`helpdesk-bot-zendesk-42`)."""
        return f"{self.config.tag}-{feedback.ticket_ref}"

    def find(self, feedback: Feedback) -> Idea | None:
        """`GET /api/v1/products/{product}/ideas?tag=…`: the idea already recorded for this ticket."""
        page = self.api.call(
            "GET", f"/products/{self.product}/ideas", params={"tag": self.ticket_tag(feedback), "per_page": 5}
        )
        ideas = (page or {}).get("ideas") or []
        return _idea(ideas[0], created=False) if ideas else None

    def record(self, feedback: Feedback) -> Idea:
        """The ticket's idea: found by its tag, else `POST /api/v1/products/{product}/ideas`."""
        existing = self.find(feedback)
        if existing is not None:
            return existing
        idea: dict[str, Any] = {
            "name": feedback.name,
            "description": _description(feedback),
            "tags": f"{self.config.tag},{self.ticket_tag(feedback)}",
        }
        if feedback.ticket.requester.email:
            idea["created_by"] = feedback.ticket.requester.email
        made = self.api.call("POST", f"/products/{self.product}/ideas", json={"idea": idea})
        if not isinstance(made, Mapping) or not isinstance(made.get("idea"), Mapping):
            raise InvalidRequest("Aha! answered the idea's creation without the idea", made)
        return _idea(made["idea"], created=True)

    def get(self, reference: str) -> Idea:
        """`GET /api/v1/ideas/{id or reference}`."""
        return _idea(self.api.call("GET", f"/ideas/{quote(reference, safe='')}")["idea"], created=False)


def _idea(data: Mapping[str, Any], *, created: bool) -> Idea:
    return Idea(
        id=str(data["id"]),
        reference=str(data.get("reference_num") or data["id"]),
        name=str(data.get("name") or ""),
        url=str(data.get("url") or ""),
        created=created,
    )


def _description(feedback: Feedback) -> str:
    """HTML (what Aha! takes): the customer's text as paragraphs, who sent it, and the ticket's link."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", feedback.body) if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    requester = feedback.ticket.requester
    who = requester.name or requester.email
    if who:
        email = f" &lt;{html.escape(requester.email)}&gt;" if requester.name and requester.email else ""
        body += f"<p>From: {html.escape(who)}{email}</p>"
    if feedback.ticket.url:
        url = html.escape(feedback.ticket.url, quote=True)
        label = html.escape(f"{feedback.ticket.desk.title()} {feedback.ticket.id}")
        body += f'<p>Ticket: <a href="{url}">{label}</a></p>'
    return body
