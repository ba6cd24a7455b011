"""The sandbox server: every desk's fake API on one port (`helpdesk-bot sandbox`).

Zendesk lives under /api/v2, Jira under /rest/api and /rest/servicedeskapi, so they never collide and
`ZENDESK_URL=JIRA_URL=http://127.0.0.1:N` points both real clients at the same server.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.serving import make_server

from connectors.jira.sandbox import JiraSandbox
from connectors.sandbox_kit import Sandbox, make_app
from connectors.zendesk.sandbox import ZendeskSandbox


def build(seed: bool = True, jira_mode: str = "cloud") -> tuple[Flask, dict[str, Sandbox]]:
    """The app serving every fake desk; `jira_mode` is `cloud` or `datacenter` (see `JiraSandbox`)."""
    sandboxes: dict[str, Sandbox] = {"zendesk": ZendeskSandbox(), "jira": JiraSandbox(jira_mode)}
    for sandbox in sandboxes.values():
        sandbox.reset(seed)
    app = make_app([s.blueprints() for s in sandboxes.values()], [s.unrouted for s in sandboxes.values()])
    return app, sandboxes


def point_webhooks(sandboxes: dict[str, Sandbox], bot_url: str, secrets: dict[str, str | None]) -> None:
    """Make each fake desk deliver signed webhooks to the bot, as a real desk's webhook settings would."""
    for desk, sandbox in sandboxes.items():
        sandbox.emitter.configure(f"{bot_url.rstrip('/')}/webhooks/{desk}", secrets.get(desk))


def serve_sandbox(host: str, port: int, *, seed: bool, bot_url: str | None, jira_mode: str = "cloud") -> None:
    from bot.config import get_settings

    app, sandboxes = build(seed, jira_mode)
    if bot_url:
        settings = get_settings()
        point_webhooks(sandboxes, bot_url, {d: settings.webhook_secret(d) for d in sandboxes})
    print(
        f"helpdesk-bot sandbox: Zendesk and Jira ({'Cloud' if jira_mode == 'cloud' else 'Data Center'}) APIs "
        f"at http://{host}:{port} "
        f"({'demo desks seeded' if seed else 'empty'})",
        flush=True,
    )
    make_server(host, port, app, threaded=True).serve_forever()
