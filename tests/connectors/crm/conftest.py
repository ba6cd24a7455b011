"""One Salesforce sandbox per module, served over real HTTP; the adapter under test is simple-salesforce's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from connectors.crm.salesforce import SalesforceAccounts, SalesforceConfig
from connectors.crm.sandbox import SalesforceSandbox
from connectors.sandbox_kit import make_app
from tests.conftest import ServedApp


@dataclass
class Org:
    sandbox: SalesforceSandbox
    url: str

    def accounts(self, **credentials: Any) -> SalesforceAccounts:
        given = {"username": "bot@example.com", "password": "secret", "security_token": "tok", **credentials}
        return SalesforceAccounts(SalesforceConfig(url=self.url, **given))

    def knob(self, name: str, spec: dict[str, Any]) -> None:
        assert requests.post(f"{self.url}/_sandbox/salesforce/{name}", json=spec, timeout=10).ok

    def calls(self, key: str) -> int:
        return self.sandbox.control.calls[key]


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[SalesforceSandbox, ServedApp]]:
    sandbox = SalesforceSandbox()
    served = ServedApp(make_app([sandbox.blueprints()]))
    yield sandbox, served
    served.close()


@pytest.fixture
def org(_served: tuple[SalesforceSandbox, ServedApp]) -> Org:
    sandbox, served = _served
    sandbox.reset(seed=True)
    sandbox.control.reset()
    return Org(sandbox, served.url)
