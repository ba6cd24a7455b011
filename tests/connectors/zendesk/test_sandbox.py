"""The Zendesk sandbox behaves like Zendesk for the people and clients that use it: customers opening
tickets, agents editing them, zenpy reading them, and signed webhooks going out for every change."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask, request
from zenpy.lib.api_objects import Comment, Group, GroupMembership, JobStatus, Ticket, TicketField, User

from bot.domain.events import Event, EventKind
from bot.domain.tickets import NewComment, Role, TicketChanges, Visibility
from connectors.zendesk import webhook
from tests.conftest import ServedApp, wait_for
from tests.connectors.zendesk.conftest import Desk

SECRET = "sandbox-webhook-secret"


@pytest.fixture
def inbox(desk: Desk) -> Iterator[list[tuple[dict[str, str], bytes]]]:
    """A stand-in for the bot's webhook endpoint that keeps every delivery (headers, raw body)."""
    received: list[tuple[dict[str, str], bytes]] = []
    lock = threading.Lock()
    app = Flask("inbox")

    @app.post("/webhooks/zendesk")
    def receive() -> tuple[str, int]:
        with lock:
            received.append(({k.lower(): v for k, v in request.headers.items()}, request.get_data()))
        return "", 202

    served = ServedApp(app)
    desk.sandbox.emitter.configure(f"{served.url}/webhooks/zendesk", SECRET)
    yield received
    desk.sandbox.emitter.configure(None, None)
    served.close()


def events_for(received: list[tuple[dict[str, str], bytes]], ticket_id: str, count: int) -> list[Event]:
    """Verify and parse deliveries as the bot does, once `count` of them concern `ticket_id`."""

    def parsed() -> list[Event]:
        out = []
        for headers, body in list(received):
            webhook.verify(headers, body, SECRET, datetime.now(UTC), timedelta(minutes=5))
            payload = json.loads(body)
            event = webhook.parse(
                headers, payload, delivery_id=webhook.delivery_id(headers, payload), received_at=datetime.now(UTC)
            )
            if isinstance(event, Event) and event.ticket_id == ticket_id:
                out.append(event)
        return out

    wait_for(lambda: len(parsed()) >= count, timeout=10, interval=0.02)
    return parsed()


# --- people acting on the desk -----------------------------------------------------------------------


def test_a_customer_opens_a_ticket_as_themselves(desk: Desk) -> None:
    raw = desk.raw_ticket(desk.open_ticket("gary@globex.test", "Limits?"))
    assert (raw["requester_id"], raw["submitter_id"], raw["organization_id"]) == (302, 302, 402)
    assert (raw["status"], raw["via"]["channel"], raw["assignee_id"]) == ("new", "web", None)


def test_customers_may_not_use_the_agents_tickets_api(desk: Desk) -> None:
    """As on a real account: an end user's POST /api/v2/tickets is refused; they use /api/v2/requests."""
    resp = desk.as_user(
        "gary@globex.test", "POST", "/api/v2/tickets.json", {"ticket": {"subject": "x", "comment": {"body": "y"}}}
    )
    assert resp.status_code == 403
    assert resp.json()["error"] == "Forbidden"


def test_an_agent_opens_a_ticket_for_a_new_customer(desk: Desk) -> None:
    ticket_id = desk.open_ticket(
        "sam@example.com", "Phoned in", requester={"name": "Nina New", "email": "nina@acme.test"}
    )
    raw = desk.raw_ticket(ticket_id)
    assert raw["submitter_id"] == 105 and raw["via"]["channel"] == "api"
    nina = desk.as_user("bot@example.com", "GET", f"/api/v2/users/{raw['requester_id']}.json").json()["user"]
    assert (nina["email"], nina["role"]) == ("nina@acme.test", "end-user")


def test_customers_use_the_requests_api_for_their_own_tickets(desk: Desk) -> None:
    made = desk.as_user(
        "cathy@acme.test",
        "POST",
        "/api/v2/requests.json",
        {"request": {"subject": "VPN", "comment": {"body": "Down"}, "requester_id": 302}},
    )
    assert made.status_code == 201
    request_id = made.json()["request"]["id"]
    assert desk.raw_ticket(str(request_id))["requester_id"] == 301  # the caller, whatever the body says
    assert desk.as_user("gary@globex.test", "GET", f"/api/v2/requests/{request_id}.json").status_code == 404
    desk.as_user(
        "alice@example.com",
        "PUT",
        f"/api/v2/tickets/{request_id}.json",
        {"ticket": {"status": "hold", "comment": {"body": "note", "public": False}}},
    )
    seen = desk.as_user("cathy@acme.test", "GET", f"/api/v2/requests/{request_id}.json").json()["request"]
    assert seen["status"] == "open" and "tags" not in seen
    reply = desk.as_user(
        "cathy@acme.test",
        "PUT",
        f"/api/v2/requests/{request_id}.json",
        {"request": {"comment": {"body": "Works now"}, "solved": True}},
    )
    assert reply.status_code == 200 and reply.json()["request"]["solved"] is True
    comments = desk.adapter.get_ticket(str(request_id)).comments
    assert [(c.body, c.author.role, c.public) for c in comments][-1] == ("Works now", Role.CUSTOMER, True)


def test_unknown_credentials_are_401(desk: Desk) -> None:
    resp = desk.as_user("stranger@example.net", "GET", "/api/v2/users/me.json")
    assert (resp.status_code, resp.json()) == (401, {"error": "Couldn't authenticate you"})
    assert desk.http.get(f"{desk.url}/api/v2/users/me.json", timeout=10).status_code == 401


def test_zendesk_error_bodies(desk: Desk) -> None:
    missing = desk.as_user("bot@example.com", "GET", "/api/v2/tickets/424242.json")
    assert (missing.status_code, missing.json()) == (404, {"error": "RecordNotFound", "description": "Not found"})
    bad = desk.as_user("bot@example.com", "PUT", "/api/v2/tickets/2.json", {"ticket": {"status": "escalated"}})
    assert bad.status_code == 422
    assert bad.json()["error"] == "RecordInvalid" and "status" in bad.json()["details"]
    ids = ",".join(str(i) for i in range(1, 102))
    too_many = desk.as_user(
        "bot@example.com", "PUT", f"/api/v2/tickets/update_many.json?ids={ids}", {"ticket": {"priority": "low"}}
    )
    assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"
    assert desk.raw_ticket("2")["status"] == "new"


def test_stale_safe_update_is_409_and_leaves_the_ticket_alone(desk: Desk) -> None:
    resp = desk.as_user(
        "bot@example.com",
        "PUT",
        "/api/v2/tickets/2.json",
        {"ticket": {"assignee_id": 101, "safe_update": True, "updated_stamp": "2020-01-01T00:00:00Z"}},
    )
    assert resp.status_code == 409 and resp.json()["error"] == "UpdateConflict"
    current = desk.raw_ticket("2")
    assert current["assignee_id"] is None
    fresh = {"ticket": {"assignee_id": 101, "safe_update": True, "updated_stamp": current["updated_at"]}}
    assert desk.as_user("bot@example.com", "PUT", "/api/v2/tickets/2.json", fresh).status_code == 200


def test_ccs_and_followers_are_added_and_removed(desk: Desk) -> None:
    put = {
        "email_ccs": [{"user_id": 302, "action": "put"}, {"user_email": "new.cc@acme.test"}],
        "followers": [{"user_id": 105}],
    }
    assert desk.as_user("alice@example.com", "PUT", "/api/v2/tickets/1.json", {"ticket": put}).status_code == 200
    raw = desk.raw_ticket("1")
    assert raw["follower_ids"] == [105] and len(raw["email_cc_ids"]) == 2 and 302 in raw["email_cc_ids"]
    drop = {"email_ccs": [{"user_id": 302, "action": "delete"}], "followers": [{"user_id": 105, "action": "delete"}]}
    desk.as_user("alice@example.com", "PUT", "/api/v2/tickets/1.json", {"ticket": drop})
    raw = desk.raw_ticket("1")
    assert (
        raw["follower_ids"] == [] and 302 not in raw["email_cc_ids"] and raw["collaborator_ids"] == raw["email_cc_ids"]
    )


def test_an_end_user_cannot_follow_and_the_whole_update_is_refused(desk: Desk) -> None:
    body = {"ticket": {"additional_tags": ["half-done"], "followers": [{"user_id": 302}]}}
    resp = desk.as_user("alice@example.com", "PUT", "/api/v2/tickets/1.json", body)
    assert resp.status_code == 422 and "followers" in resp.json()["details"]
    assert "half-done" not in desk.raw_ticket("1")["tags"]


def test_agent_away_flag_and_create_or_update(desk: Desk) -> None:
    desk.as_user("bot@example.com", "PUT", "/api/v2/users/103.json", {"user": {"user_fields": {"agent_away": True}}})
    assert {a.agent.id: a.agent.available for a in desk.adapter.group_agents("201", with_load=False)}["103"] is False
    made = desk.as_user(
        "bot@example.com",
        "POST",
        "/api/v2/users/create_or_update.json",
        {"user": {"email": "z@acme.test", "name": "Z"}},
    )
    again = desk.as_user(
        "bot@example.com",
        "POST",
        "/api/v2/users/create_or_update.json",
        {"user": {"email": "z@acme.test", "name": "Zed"}},
    )
    assert (made.status_code, again.status_code) == (201, 200)
    assert made.json()["user"]["id"] == again.json()["user"]["id"] and again.json()["user"]["name"] == "Zed"


def test_rate_limit_headers_and_429(desk: Desk) -> None:
    desk.knob("budget", {"per_minute": 3})
    first = desk.as_user("bot@example.com", "GET", "/api/v2/users/me.json")
    assert (first.headers["X-Rate-Limit"], first.headers["X-Rate-Limit-Remaining"]) == ("3", "2")
    assert first.headers["ratelimit-remaining"] == "2"
    for _ in range(2):
        desk.as_user("bot@example.com", "GET", "/api/v2/users/me.json")
    limited = desk.as_user("bot@example.com", "GET", "/api/v2/users/me.json")
    assert limited.status_code == 429 and limited.json()["error"] == "APIRateLimitExceeded"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61 and limited.headers["X-Rate-Limit-Remaining"] == "0"


# --- webhooks out ------------------------------------------------------------------------------------


def test_customer_ticket_emits_a_signed_created_event(desk: Desk, inbox: list[tuple[dict[str, str], bytes]]) -> None:
    ticket_id = desk.open_ticket("cathy@acme.test", "Hello")
    [event] = events_for(inbox, ticket_id, 1)
    assert (event.kind, event.actor.id, event.actor.role) == (EventKind.TICKET_CREATED, "301", Role.CUSTOMER)
    headers, _ = inbox[0]
    assert headers["x-zendesk-webhook-invocation-id"] and headers["user-agent"] == "Zendesk Webhook"


def test_the_bots_own_write_comes_back_with_its_id(desk: Desk, inbox: list[tuple[dict[str, str], bytes]]) -> None:
    """Like a real account, the bot's writes trigger webhooks too; the actor id lets the bot skip its echo."""
    ticket = desk.adapter.get_ticket("2")
    desk.adapter.apply(ticket, TicketChanges(assignee_id="102", comment=NewComment("Internal", Visibility.INTERNAL)))
    events = events_for(inbox, "2", 2)
    assert {e.kind for e in events} == {EventKind.ASSIGNEE_CHANGED, EventKind.COMMENT_ADDED}
    assert {e.actor.id for e in events} == {desk.adapter.me().id}
    [comment] = [e for e in events if e.kind is EventKind.COMMENT_ADDED]
    assert comment.comment_public is False and comment.actor.role is Role.AGENT


def test_customer_reply_reopens_a_pending_ticket_and_is_reported(
    desk: Desk, inbox: list[tuple[dict[str, str], bytes]]
) -> None:
    desk.as_user("alice@example.com", "PUT", "/api/v2/tickets/1.json", {"ticket": {"status": "pending"}})
    desk.as_user("cathy@acme.test", "PUT", "/api/v2/tickets/1.json", {"ticket": {"comment": {"body": "Still broken"}}})
    assert desk.raw_ticket("1")["status"] == "open"
    events = events_for(inbox, "1", 3)
    assert [(e.kind, e.actor.id) for e in events] == [
        (EventKind.STATUS_CHANGED, "101"),
        (EventKind.STATUS_CHANGED, "301"),
        (EventKind.COMMENT_ADDED, "301"),
    ]
    assert (events[-1].actor.role, events[-1].comment_public) == (Role.CUSTOMER, True)


# --- zenpy, unchanged --------------------------------------------------------------------------------


def test_zenpy_reads_the_sandbox_into_its_own_classes(desk: Desk) -> None:
    zenpy = desk.adapter.zenpy
    me = zenpy.users.me()
    assert isinstance(me, User) and (me.id, me.role) == (1, "admin")
    ticket = zenpy.tickets(id=1)
    assert (
        isinstance(ticket, Ticket)
        and isinstance(ticket.requester, User)
        and ticket.requester.email == "cathy@acme.test"
    )
    assert isinstance(ticket.group, Group) and ticket.group.name == "Support"
    assert [type(c) for c in zenpy.tickets.comments(ticket=1)] == [Comment]
    members = list(zenpy.groups.memberships(group=201))
    assert all(isinstance(m, GroupMembership) for m in members) and {m.user_id for m in members} == {101, 102, 103}
    field, resolution, audit, followup = list(zenpy.ticket_fields())
    assert isinstance(field, TicketField) and (field.id, resolution.id) == (900001, 900002)
    assert (audit.id, followup.id) == (900003, 900004)
    assert "technical_support" in {o.value for o in field.custom_field_options}
    [cathy] = list(zenpy.users.search(query="email:cathy@acme.test"))
    assert isinstance(cathy, User) and cathy.organization_id == 401


def test_zenpy_update_many_returns_a_job_that_completes(desk: Desk) -> None:
    zenpy = desk.adapter.zenpy
    job = zenpy.tickets.update([Ticket(id=1, priority="urgent"), Ticket(id=2, priority="urgent")])
    assert isinstance(job, JobStatus) and job.status == "queued"
    done = zenpy.job_status(id=job.id)
    assert done.status == "completed" and sorted(r.id for r in done.results) == [1, 2]
    assert {desk.raw_ticket(i)["priority"] for i in ("1", "2")} == {"urgent"}


def test_zenpy_search_export_pages_with_cursors(desk: Desk) -> None:
    for i in range(120):
        desk.open_ticket("gary@globex.test", f"many {i}")
    found: list[Any] = list(desk.adapter.zenpy.search_export(type="ticket", status="new"))
    assert len(found) == 121 and all(isinstance(t, Ticket) and t.status == "new" for t in found)


def test_comments_page_by_offset_for_clients_that_ask_for_it(desk: Desk) -> None:
    for i in range(4):
        desk.as_user("alice@example.com", "PUT", "/api/v2/tickets/1.json", {"ticket": {"comment": {"body": f"c{i}"}}})
    first = desk.as_user("bot@example.com", "GET", "/api/v2/tickets/1/comments.json?per_page=3").json()
    assert (len(first["comments"]), first["count"], first["previous_page"]) == (3, 5, None)
    second = desk.http.get(first["next_page"], auth=("bot@example.com/token", "x"), timeout=10).json()
    assert [c["body"] for c in second["comments"]] == ["c2", "c3"] and second["next_page"] is None


def test_concurrent_writers_all_land(desk: Desk) -> None:
    """Agents and the bot write at once; every comment lands once and ids stay unique."""

    def write(n: int) -> int:
        author = ("alice@example.com", "bob@example.com", "bot@example.com")[n % 3]
        body = {"ticket": {"comment": {"body": f"w{n}", "public": False}, "additional_tags": [f"t{n}"]}}
        with requests.Session() as http:
            return http.put(
                f"{desk.url}/api/v2/tickets/2.json", json=body, auth=(f"{author}/token", "x"), timeout=10
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(write, range(40))) == {200}
    comments = desk.adapter.get_ticket("2").comments
    assert sorted(c.body for c in comments[1:]) == sorted(f"w{n}" for n in range(40))
    assert len({c.id for c in comments}) == 41 and {f"t{n}" for n in range(40)} <= set(desk.raw_ticket("2")["tags"])
