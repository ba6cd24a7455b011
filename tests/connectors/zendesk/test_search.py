"""Zendesk search syntax: one parser behind `/search.json`, `/search/export.json` and `/search/count.json`.

Each query is one the bot's sweeps or a person at the search box would type; every endpoint must find the
same tickets for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.zendesk import search_syntax
from tests.connectors.zendesk.conftest import Desk

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def tickets(desk: Desk) -> dict[str, int]:
    """The demo desk's two tickets plus a pending VIP one and an old solved high-priority one."""
    vip = int(desk.open_ticket("cathy@acme.test", "Export is slow", tags=["vip"]))
    old = int(desk.open_ticket("gary@globex.test", "Old billing question", priority="high"))
    desk.as_user("alice@example.com", "PUT", f"/api/v2/tickets/{vip}.json", {"ticket": {"status": "pending"}})
    desk.as_user("alice@example.com", "PUT", f"/api/v2/tickets/{old}.json", {"ticket": {"status": "solved"}})
    stale = desk.sandbox.state.tickets[old]
    stale["created_at"], stale["updated_at"] = "2025-06-15T10:00:00Z", "2025-06-20T16:30:00Z"
    # Opened in the same second as the seeded ones, however slow the machine: ordering ties go by id.
    desk.sandbox.state.tickets[vip]["created_at"] = desk.sandbox.state.tickets[1]["created_at"]
    return {"invoice": 1, "limits": 2, "vip": vip, "old": old}


QUERIES = [
    ("status:pending", {"vip"}),
    ("status<solved", {"invoice", "limits", "vip"}),
    ("status>=solved", {"old"}),
    ('status:"open" status:"pending"', {"invoice", "vip"}),
    ("tags:vip", {"vip"}),
    ("-tags:vip status<closed", {"invoice", "limits", "old"}),
    ("requester:cathy@acme.test", {"invoice", "vip"}),
    ('requester:"Cathy Customer"', {"invoice", "vip"}),
    ("assignee:none", {"limits", "vip", "old"}),
    ("assignee:alice@example.com", {"invoice"}),
    ('group:"Support"', {"invoice"}),
    ("group:201", {"invoice"}),
    ("organization:Globex", {"limits", "old"}),
    ("updated<2026-01-01", {"old"}),
    ("updated_at<2025-06-20T16:00:00Z", set()),
    ("updated:2025-06-20", {"old"}),
    ("created>2025-06-01 created<2025-07-01", {"old"}),
    ("created>2025-06-15", {"invoice", "limits", "vip"}),
    ("updated<2days", {"old"}),
    ("priority>normal", {"old"}),
    ("invoice", {"invoice"}),
    ('subject:"billing question"', {"old"}),
    ("export status:pending tags:vip", {"vip"}),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_every_search_endpoint_finds_the_same_tickets(
    desk: Desk, tickets: dict[str, int], query: str, expected: set[str]
) -> None:
    wanted = {tickets[name] for name in expected}
    search = desk.as_user("alice@example.com", "GET", f"/api/v2/search.json?query=type:ticket {query}")
    assert search.status_code == 200, search.text
    assert {r["id"] for r in search.json()["results"]} == wanted
    assert {r["result_type"] for r in search.json()["results"]} <= {"ticket"}
    export = desk.as_user("alice@example.com", "GET", f"/api/v2/search/export.json?filter[type]=ticket&query={query}")
    assert {r["id"] for r in export.json()["results"]} == wanted
    count = desk.as_user("alice@example.com", "GET", f"/api/v2/search/count.json?query=type:ticket {query}")
    assert count.json()["count"] == len(wanted)


def test_search_pages_by_offset_and_sorts(desk: Desk, tickets: dict[str, int]) -> None:
    first = desk.as_user(
        "alice@example.com", "GET", "/api/v2/search.json?query=type:ticket&per_page=2&sort_by=created_at&sort_order=asc"
    ).json()
    assert [r["id"] for r in first["results"]] == [tickets["old"], tickets["invoice"]]
    assert first["count"] == 4 and "page=2" in first["next_page"] and first["previous_page"] is None
    second = desk.http.get(first["next_page"], auth=("alice@example.com/token", "x"), timeout=10).json()
    assert [r["id"] for r in second["results"]] == [tickets["limits"], tickets["vip"]]
    assert second["next_page"] is None


def test_export_pages_by_cursor_newest_first(desk: Desk, tickets: dict[str, int]) -> None:
    for name, created in (("limits", "2026-02-03"), ("invoice", "2026-02-02"), ("vip", "2026-02-01")):
        desk.sandbox.state.tickets[tickets[name]]["created_at"] = f"{created}T10:00:00Z"
    page = desk.as_user(
        "alice@example.com", "GET", "/api/v2/search/export.json?filter[type]=ticket&query=status<closed&page[size]=3"
    ).json()
    assert [r["id"] for r in page["results"]] == [tickets["limits"], tickets["invoice"], tickets["vip"]]
    assert page["meta"]["has_more"] is True
    rest = desk.http.get(page["links"]["next"], auth=("alice@example.com/token", "x"), timeout=10).json()
    assert [r["id"] for r in rest["results"]] == [tickets["old"]] and rest["meta"]["has_more"] is False


def test_export_needs_a_type_and_finds_users(desk: Desk) -> None:
    missing = desk.as_user("alice@example.com", "GET", "/api/v2/search/export.json?query=cathy")
    assert missing.status_code == 400
    users = desk.as_user("alice@example.com", "GET", "/api/v2/search/export.json?filter[type]=user&query=role:end-user")
    assert {u["email"] for u in users.json()["results"]} == {"cathy@acme.test", "gary@globex.test"}
    assert {u["result_type"] for u in users.json()["results"]} == {"user"}


def test_search_without_a_type_finds_every_kind(desk: Desk) -> None:
    found = desk.as_user("alice@example.com", "GET", "/api/v2/search.json?query=acme").json()["results"]
    assert {(r["result_type"], r.get("name") or r.get("subject")) for r in found} == {
        ("organization", "Acme"),
        ("user", "Cathy Customer"),  # her email is at acme.test
    }


def test_parse_reads_zenpy_queries() -> None:
    query = search_syntax.parse(
        'type:ticket status:"pending" -tags:x updated<2026-01-01T00:00:00Z order_by:updated sort:asc'
    )
    assert query.types == frozenset({"ticket"})
    assert (query.sort_by, query.sort_order) == ("updated_at", "asc")
    assert query.terms == (
        search_syntax.Term("status", ":", "pending"),
        search_syntax.Term("tags", ":", "x", negated=True),
        search_syntax.Term("updated", "<", "2026-01-01T00:00:00Z"),
    )


@pytest.mark.parametrize(
    ("updated", "query", "hit"),
    [
        (NOW - timedelta(hours=5), "updated<4hours", True),
        (NOW - timedelta(hours=3), "updated<4hours", False),
        (NOW - timedelta(hours=3), "updated>4hours", True),
        (datetime(2026, 3, 1, 23, 59, tzinfo=UTC), "updated:2026-03-01", True),
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), "updated:2026-03-01", False),
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), "updated>2026-03-01", True),
        (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "updated<=2026-03-01", True),
    ],
)
def test_dates_are_days_times_or_ages_before_now(updated: datetime, query: str, hit: bool) -> None:
    class Nobody:
        def user_ids(self, ref: str) -> set[int]:
            return set()

        group_ids = organization_ids = user_ids

        def ticket_text(self, ticket: object) -> str:
            return ""

    ticket = {"id": 1, "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"), "tags": []}
    assert search_syntax.matches(ticket, "ticket", search_syntax.parse(query), Nobody(), NOW) is hit
