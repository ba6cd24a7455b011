"""The sandbox server: every fake service on one port (`helpdesk-bot sandbox`).

Zendesk lives under /api/v2, Jira under /rest/api and /rest/servicedeskapi, Salesforce under /services,
Aha! under /api/v1, so they never collide and `ZENDESK_URL=JIRA_URL=SALESFORCE_URL=AHA_URL=http://127.0.0.1:N`
points the real clients at the same server. Chat webhooks are faked at their own paths too (Slack
`/services/T/B/x`, Google Chat `/v1/spaces/S/messages`) and recorded (`GET /_sandbox/chat/posts`).
"""

from __future__ import annotations

from typing import cast

from flask import Flask
from werkzeug.serving import make_server

from connectors.chat.sandbox import ChatSandbox
from connectors.crm.sandbox import SalesforceSandbox
from connectors.feedback.sandbox import AhaSandbox
from connectors.jira.sandbox import JiraSandbox
from connectors.sandbox_kit import Fake, Sandbox, make_app
from connectors.zendesk.sandbox import ZendeskSandbox

DESKS = ("zendesk", "jira")
"""The fakes that are helpdesks (they post webhooks to the bot); the others are services the bot calls."""


def build(seed: bool = True, jira_mode: str = "cloud") -> tuple[Flask, dict[str, Fake]]:
    """The app serving every fake; `jira_mode` is `cloud` or `datacenter` (see `JiraSandbox`)."""
    fakes: dict[str, Fake] = {
        "zendesk": ZendeskSandbox(),
        "jira": JiraSandbox(jira_mode),
        "salesforce": SalesforceSandbox(),
        "aha": AhaSandbox(),
        "chat": ChatSandbox(),
    }
    for fake in fakes.values():
        fake.reset(seed)
    app = make_app([f.blueprints() for f in fakes.values()], [f.unrouted for f in fakes.values()])
    return app, fakes


def desks(fakes: dict[str, Fake]) -> dict[str, Sandbox]:
    return {name: cast(Sandbox, fakes[name]) for name in DESKS if name in fakes}


def point_webhooks(fakes: dict[str, Fake], bot_url: str, secrets: dict[str, str | None]) -> None:
    """Make each fake desk deliver signed webhooks to the bot, as a real desk's webhook settings would."""
    for desk, sandbox in desks(fakes).items():
        sandbox.emitter.configure(f"{bot_url.rstrip('/')}/webhooks/{desk}", secrets.get(desk))


def serve_sandbox(host: str, port: int, *, seed: bool, bot_url: str | None, jira_mode: str = "cloud") -> None:
    from bot.config import get_settings

    app, fakes = build(seed, jira_mode)
    if bot_url:
        settings = get_settings()
        point_webhooks(fakes, bot_url, {d: settings.webhook_secret(d) for d in DESKS})
    print(
        f"helpdesk-bot sandbox: Zendesk and Jira ({'Cloud' if jira_mode == 'cloud' else 'Data Center'}), "
        f"Salesforce, Aha! and chat webhooks at http://{host}:{port} "
        f"({'demo desks seeded' if seed else 'empty'})",
        flush=True,
    )
    make_server(host, port, app, threaded=True).serve_forever()
