"""People looked up by email are found once per worker process, not once per ticket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.domain.actions import AddParticipants
from connectors.base import DeskConfig
from connectors.sandbox_kit import make_app
from connectors.zendesk.adapter import build
from connectors.zendesk.sandbox import ZendeskSandbox
from tasks.executor import PeopleCache, resolve_people
from tests.conftest import ServedApp


@pytest.fixture
def zendesk() -> Iterator[tuple[ZendeskSandbox, ServedApp]]:
    sandbox = ZendeskSandbox()
    sandbox.reset(seed=True)
    served = ServedApp(make_app([sandbox.blueprints()]))
    yield sandbox, served
    served.close()


def test_a_found_person_is_not_searched_again(zendesk: tuple[ZendeskSandbox, ServedApp]) -> None:
    sandbox, served = zendesk
    desk = build(DeskConfig(served.url, "bot@example.com", "x"))
    cache = PeopleCache()
    actions = [AddParticipants(emails=("sam@example.com", "nobody@acme.test"))]
    first = resolve_people(desk, actions, create=False, cache=cache)
    second = resolve_people(desk, actions, create=False, cache=cache)
    assert first == second
    assert first.ids == {"sam@example.com": "105"} and first.missing == ("nobody@acme.test",)
    searches = sandbox.control.calls["GET /api/v2/users/search.json"]
    assert searches == 3  # sam once, the unknown address each time (it may exist by now)


def test_entries_expire() -> None:
    now = [0.0]
    cache = PeopleCache(ttl=300, clock=lambda: now[0])
    cache.put("zendesk", "sam@example.com", "105")
    assert cache.get("zendesk", "sam@example.com") == "105"
    assert cache.get("jira", "sam@example.com") is None
    now[0] = 301
    assert cache.get("zendesk", "sam@example.com") is None
