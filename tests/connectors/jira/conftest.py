"""One Jira sandbox per module, served over real HTTP, with every Jira exchange checked against Atlassian's specs.

The adapter under test is the real one (the `jira` client's session), talking to `JiraSandbox` through a
socket; each test starts from the seeded demo desk, and fails if the adapter sent, or the sandbox answered,
anything the platform or service desk OpenAPI document does not allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from connectors.base import DeskConfig
from connectors.jira.adapter import JiraDesk, build
from connectors.jira.options import JiraOptions
from connectors.jira.sandbox import JiraSandbox
from connectors.sandbox_kit import make_app
from tests.conftest import ServedApp
from tests.connectors.jira.openapi import SpecCheck
from tests.sandbox_helpers import demo_options


@dataclass
class Site:
    """The sandbox site a test works on, and the ways people other than the bot act on it."""

    sandbox: JiraSandbox
    served: ServedApp
    recorder: SpecCheck

    @property
    def url(self) -> str:
        return self.served.url

    def adapter(self, **options: Any) -> JiraDesk:
        settings = JiraOptions.of(demo_options("jira")).model_copy(update=options)
        return build(DeskConfig(url=self.url, email="bot@example.com", token="api-token", options=settings))

    def call(self, method: str, path: str, as_user: str = "alice@example.com", **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", auth=(as_user, "api-token"), timeout=10, **kw)

    def raise_request(self, summary: str, as_user: str = "cathy@acme.test", request_type: str = "1") -> str:
        """A customer opens a request on the portal (the real JSM endpoint); returns its key."""
        body = {
            "serviceDeskId": "1",
            "requestTypeId": request_type,
            "requestFieldValues": {"summary": summary, "description": f"{summary}: details"},
        }
        resp = self.call("POST", "/rest/servicedeskapi/request", as_user, json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["issueKey"])

    def issue(self, key: str, fields: str = "*all") -> dict[str, Any]:
        resp = self.call("GET", f"/rest/api/3/issue/{key}", params={"fields": fields})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def calls(self, method: str, path_end: str) -> int:
        """How many `method` calls reached a route ending in `path_end` (any REST version)."""
        return sum(
            n
            for key, n in self.sandbox.control.calls.items()
            if key.startswith(method + " ") and key.endswith(path_end)
        )


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[JiraSandbox, ServedApp, SpecCheck]]:
    sandbox = JiraSandbox()
    sandbox.reset(seed=True)
    app = make_app([sandbox.blueprints()])
    recorder = SpecCheck(app)
    served = ServedApp(app)
    yield sandbox, served, recorder
    served.close()


@pytest.fixture
def site(_served: tuple[JiraSandbox, ServedApp, SpecCheck]) -> Iterator[Site]:
    sandbox, served, recorder = _served
    sandbox.reset(seed=True)
    sandbox.control.reset()
    sandbox.emitter.configure(None, None)
    recorder.take()
    recorder.paths.clear()
    yield Site(sandbox, served, recorder)
    violations = recorder.take()
    assert not violations, "traffic outside Atlassian's OpenAPI specs:\n" + "\n".join(violations)
