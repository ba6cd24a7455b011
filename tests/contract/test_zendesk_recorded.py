"""The Zendesk sandbox answers like the real Zendesk did in recorded exchanges (zenpy's test cassettes).

For each kind of call, the recorded answer's keys (and those of the objects it carries) must all be in
the sandbox's answer to the same kind of call, with values of the same JSON type where both are set,
and error answers must carry the same status and error code.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.sandboxes import build
from tests.conftest import FIXTURES, ServedApp
from tests.sandbox_helpers import create_ticket, sandbox_control

RECORDED = FIXTURES / "zendesk" / "recorded"
AUTH = ("bot@example.com/token", "x")


def recorded(cassette: str, method: str, path_part: str) -> tuple[int, Any]:
    """Status and JSON body of the first recorded exchange of `cassette` matching method and path."""
    data = json.loads((RECORDED / f"{cassette}.json").read_text())
    for exchange in data["http_interactions"]:
        req, resp = exchange["request"], exchange["response"]
        if req["method"] == method and path_part in req["uri"]:
            body = resp["body"]
            raw = (
                base64.b64decode(body["base64_string"])
                if body.get("base64_string")
                else body.get("string", "").encode()
            )
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return int(resp["status"]["code"]), json.loads(raw)
    raise LookupError(f"{cassette}: no {method} {path_part}")


def kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null"
    )


def shape_problems(real: Any, ours: Any, where: str = "") -> list[str]:
    """Keys of `real` missing from `ours`, and values whose JSON types differ (nulls excepted)."""
    problems: list[str] = []
    if isinstance(real, dict) and isinstance(ours, dict):
        for key, value in real.items():
            if key not in ours:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += shape_problems(value, ours[key], f"{where}.{key}")
    elif isinstance(real, list) and isinstance(ours, list) and real and ours:
        problems += shape_problems(real[0], ours[0], f"{where}[0]")
    elif None not in (real, ours) and kind(real) != kind(ours):
        problems.append(f"{where}: {kind(real)} recorded, {kind(ours)} served")
    return problems


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServedApp]:
    app, _ = build(seed=True)
    served = ServedApp(app)
    yield served
    served.close()


@pytest.fixture
def ticket_id(sandbox: ServedApp) -> str:
    sandbox_control(sandbox.url, "zendesk", "reset", {"seed": True})
    return create_ticket(sandbox.url, "zendesk", "cathy@acme.test", "Shape check", "Comparing with a recording.")


def call(sandbox: ServedApp, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = requests.request(method, f"{sandbox.url}{path}", json=body, auth=AUTH, timeout=10)
    return resp.status_code, resp.json()


def test_show_me(sandbox: ServedApp) -> None:
    status, real = recorded("TestUserMe.test_users_me", "GET", "/users/me")
    ours = call(sandbox, "GET", "/api/v2/users/me.json")
    assert ours[0] == status
    assert shape_problems(real, ours[1]) == []


def test_create_ticket(sandbox: ServedApp) -> None:
    status, real = recorded(
        "TestTicketCreateUpdateDelete.test_single_object_creation-create-single", "POST", "/tickets.json"
    )
    ours = call(sandbox, "POST", "/api/v2/tickets.json", {"ticket": {"subject": "s", "comment": {"body": "b"}}})
    assert ours[0] == status
    assert shape_problems(real["ticket"], ours[1]["ticket"], "ticket") == []


def test_update_ticket(sandbox: ServedApp, ticket_id: str) -> None:
    status, real = recorded("TestTicketCreateUpdateDelete.test_single_object_update-update-single", "PUT", "/tickets/")
    ours = call(sandbox, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"subject": "changed"}})
    assert ours[0] == status
    assert shape_problems(real["ticket"], ours[1]["ticket"], "ticket") == []
    assert set(real) <= set(ours[1])


def test_update_many_job_and_its_status(sandbox: ServedApp, ticket_id: str) -> None:
    cassette = "TestTicketCreateUpdateDelete.test_multiple_update_full_objects-update-many"
    status, real = recorded(cassette, "PUT", "/tickets/update_many")
    ours = call(
        sandbox, "PUT", "/api/v2/tickets/update_many.json", {"tickets": [{"id": int(ticket_id), "priority": "low"}]}
    )
    assert ours[0] == status
    assert shape_problems(real["job_status"], ours[1]["job_status"], "job_status") == []
    _, real_done = recorded(cassette, "GET", "/job_statuses/")
    done = call(sandbox, "GET", f"/api/v2/job_statuses/{ours[1]['job_status']['id']}.json")
    assert shape_problems(real_done["job_status"], done[1]["job_status"], "job_status") == []


def test_more_than_100_tickets_is_too_many_values(sandbox: ServedApp) -> None:
    """Recorded on create_many; update_many shares the limit and the error body."""
    status, real = recorded(
        "TestTicketCreateUpdateDelete.test_raises_multiple_update_raises_toomanyvaluesexception-update-many",
        "POST",
        "create_many",
    )
    ours = call(sandbox, "PUT", "/api/v2/tickets/update_many.json", {"tickets": [{"id": i} for i in range(1, 102)]})
    assert ours[0] == status
    assert shape_problems(real, ours[1]) == []
    assert (ours[1]["error"], ours[1]["max_count"]) == (real["error"], real["max_count"])


def test_unknown_ticket_is_record_not_found(sandbox: ServedApp) -> None:
    status, real = recorded(
        "TestTicketCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update",
        "PUT",
        "/tickets/",
    )
    ours = call(sandbox, "PUT", "/api/v2/tickets/999999.json", {"ticket": {"subject": "x"}})
    assert (ours[0], ours[1]) == (status, real)


def test_group_memberships(sandbox: ServedApp) -> None:
    _, real = recorded("TestGroupMemberships.test_values", "GET", "/group_memberships")
    ours = call(sandbox, "GET", "/api/v2/groups/201/memberships.json")
    assert shape_problems(real["group_memberships"][0], ours[1]["group_memberships"][0], "membership") == []


def test_unpermitted_ticket_keys_are_ignored_with_zendesks_warning(sandbox: ServedApp, ticket_id: str) -> None:
    """Recorded: zenpy sent the ticket's `id` inside the update; Zendesk ignored it and said so in a header."""
    data = json.loads(
        (RECORDED / "TestTicketCreateUpdateDelete.test_single_object_update-update-single.json").read_text()
    )
    update = next(e for e in data["http_interactions"] if e["request"]["method"] == "PUT")
    real_warning = update["response"]["headers"]["x-zendesk-api-warn"][0]
    body = {"ticket": {"subject": "changed", "id": int(ticket_id)}}
    resp = requests.put(f"{sandbox.url}/api/v2/tickets/{ticket_id}.json", json=body, auth=AUTH, timeout=10)
    assert resp.status_code == 200 and resp.json()["ticket"]["subject"] == "changed"
    assert resp.headers["x-zendesk-api-warn"] == real_warning
    clean = requests.put(
        f"{sandbox.url}/api/v2/tickets/{ticket_id}.json", json={"ticket": {"subject": "again"}}, auth=AUTH, timeout=10
    )
    assert "x-zendesk-api-warn" not in clean.headers


def test_search_export_of_users(sandbox: ServedApp) -> None:
    """zenpy's `search_export(type="user")` recorded: a cursor page of users tagged `result_type`."""
    status, real = recorded("TestUserSearchExportApi.test_cbp_small_iterations", "GET", "/search/export.json")
    resp = requests.get(
        f"{sandbox.url}/api/v2/search/export.json",
        params={"query": "created_at>=2023-09-14T00:39:54Z type:user", "filter[type]": "user", "page[size]": 1},
        auth=AUTH,
        timeout=10,
    )
    ours = resp.json()
    assert resp.status_code == status
    real["results"][0]["user_fields"] = {}  # that account's own custom user fields
    assert shape_problems(real, ours) == []
    assert ours["results"][0]["result_type"] == "user" and ours["meta"]["has_more"] is True
    following = requests.get(ours["links"]["next"], auth=AUTH, timeout=10).json()
    assert following["results"][0]["id"] != ours["results"][0]["id"]
