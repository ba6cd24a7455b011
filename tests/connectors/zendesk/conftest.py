"""A fresh demo Zendesk sandbox served over real HTTP, and the bot's adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from connectors.base import DeskConfig
from connectors.sandbox_kit import make_app
from connectors.zendesk.adapter import ZendeskDesk, build
from connectors.zendesk.sandbox import ZendeskSandbox
from tests.conftest import ServedApp
from tests.sandbox_helpers import demo_options, open_zendesk_ticket


@dataclass
class Desk:
    """One test's Zendesk: the sandbox object (for its knobs), its URL and the adapter under test."""

    sandbox: ZendeskSandbox
    url: str
    adapter: ZendeskDesk
    http: requests.Session

    def as_user(self, email: str, method: str, path: str, body: Any = None) -> requests.Response:
        """Call the fake API as a person of the demo desk (a customer, an agent), like their own client would."""
        return self.http.request(method, f"{self.url}{path}", json=body, auth=(f"{email}/token", "x"), timeout=10)

    def open_ticket(self, email: str, subject: str, body: str = "Please help.", **extra: Any) -> str:
        return open_zendesk_ticket(self.url, email, subject, body, **extra)

    def raw_ticket(self, ticket_id: str) -> dict[str, Any]:
        resp = self.as_user("bot@example.com", "GET", f"/api/v2/tickets/{ticket_id}.json")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["ticket"])

    def calls(self) -> dict[str, int]:
        return dict(self.http.get(f"{self.url}/_sandbox/zendesk/calls", timeout=10).json()["by_endpoint"])

    def knob(self, name: str, spec: dict[str, Any]) -> None:
        assert self.http.post(f"{self.url}/_sandbox/zendesk/{name}", json=spec, timeout=10).ok


@pytest.fixture(scope="module")
def served_sandbox() -> Iterator[tuple[ZendeskSandbox, ServedApp]]:
    """One server per module (stopping one takes half a second); each test resets its state."""
    sandbox = ZendeskSandbox()
    served = ServedApp(make_app([sandbox.blueprints()]))
    yield sandbox, served
    served.close()


@pytest.fixture
def desk(served_sandbox: tuple[ZendeskSandbox, ServedApp]) -> Iterator[Desk]:
    sandbox, served = served_sandbox
    sandbox.reset(seed=True)
    sandbox.control.reset()
    sandbox.emitter.configure(None, None)
    adapter = build(
        DeskConfig(url=served.url, email="bot@example.com", token="sandbox-token", options=demo_options("zendesk"))
    )
    with requests.Session() as http:
        yield Desk(sandbox, served.url, adapter, http)
