"""The Zendesk adapter against the stateful sandbox over HTTP, through zenpy and its session, unchanged."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.errors import Conflict, InvalidRequest, RateLimited, Unavailable
from bot.domain.tickets import NewComment, Person, Role, Status, TicketChanges, TicketQuery, Visibility
from connectors.base import DeskConfig, iter_search
from connectors.zendesk import adapter as adapter_module
from connectors.zendesk.adapter import build
from tests.connectors.zendesk.conftest import Desk

CATHY, GARY = "cathy@acme.test", "gary@globex.test"


def test_seeded_ticket_reads_back_normalized(desk: Desk) -> None:
    ticket = desk.adapter.get_ticket("1")
    assert (ticket.desk, ticket.id, ticket.status) == ("zendesk", "1", Status.OPEN)
    assert (ticket.assignee_id, ticket.group_id, ticket.organization_id) == ("101", "201", "401")
    assert ticket.requester == Person("301", "Cathy Customer", "cathy@acme.test", Role.CUSTOMER, "401")
    assert ticket.version == desk.raw_ticket("1")["updated_at"]
    assert [c.body for c in ticket.comments] == ["Please send me a copy."]
    assert ticket.comments[0].author.role is Role.CUSTOMER and ticket.comments[0].public


def test_comments_keep_author_roles_and_visibility(desk: Desk) -> None:
    ticket_id = desk.open_ticket(CATHY, "Broken export")
    desk.as_user(
        "alice@example.com",
        "PUT",
        f"/api/v2/tickets/{ticket_id}.json",
        {"ticket": {"comment": {"body": "Looking", "public": False}}},
    )
    desk.adapter.apply(
        replace(desk.adapter.get_ticket(ticket_id), version=""),
        TicketChanges(comment=NewComment("On it", Visibility.PUBLIC)),
    )
    desk.as_user(CATHY, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"comment": {"body": "Thanks"}}})
    comments = desk.adapter.get_ticket(ticket_id).comments
    assert [(c.body, c.author.role, c.visibility) for c in comments] == [
        ("Please help.", Role.CUSTOMER, Visibility.PUBLIC),
        ("Looking", Role.AGENT, Visibility.INTERNAL),
        ("On it", Role.BOT, Visibility.PUBLIC),
        ("Thanks", Role.CUSTOMER, Visibility.PUBLIC),
    ]


def test_comments_past_one_page_are_all_read(desk: Desk) -> None:
    ticket_id = desk.open_ticket(GARY, "Chatty")
    for i in range(104):
        desk.as_user(GARY, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"comment": {"body": f"note {i}"}}})
    comments = desk.adapter.get_ticket(ticket_id).comments
    assert len(comments) == 105 and comments[-1].body == "note 103"
    assert desk.calls()["GET /api/v2/tickets/<int:tid>/comments.json"] == 2  # the second page follows links.next


def test_one_put_carries_every_change(desk: Desk) -> None:
    ticket = desk.adapter.get_ticket(desk.open_ticket("sam@example.com", "Fwd: invoice", tags=["forwarded"]))
    before = desk.calls()
    desk.adapter.apply(
        ticket,
        TicketChanges(
            assignee_id="102",
            group_id="202",
            request_type="configuration_change",
            requester_id="301",
            add_participant_ids=("105", "302"),
            status=Status.PENDING,
            priority="high",
            add_tags=("helpdesk-bot",),
            remove_tags=("forwarded",),
            comment=NewComment("Next steps: ...", Visibility.PUBLIC, mentions=(Person("102", "Bob Agent"),)),
        ),
    )
    after = desk.calls()
    writes = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert writes == {"PUT /api/v2/tickets/<int:tid>.json": 1}
    raw = desk.raw_ticket(ticket.id)
    assert (raw["assignee_id"], raw["group_id"], raw["requester_id"], raw["organization_id"]) == (102, 202, 301, 401)
    assert (raw["status"], raw["priority"]) == ("pending", "high")
    assert {"id": 900001, "value": "configuration_change"} in raw["custom_fields"]
    assert "helpdesk-bot" in raw["tags"] and "forwarded" not in raw["tags"]
    assert set(raw["email_cc_ids"]) == {105, 302}
    read = desk.adapter.get_ticket(ticket.id)
    assert read.request_type == "configuration_change" and set(read.participant_ids) == {"105", "302"}
    assert read.comments[-1].body == "Bob Agent: Next steps: ..." and read.comments[-1].public


@pytest.mark.parametrize("key", ["resolution_field", "closure_code_field"])  # the setting's two names
def test_resolving_keeps_the_method_of_resolution_in_the_configured_field(desk: Desk, key: str) -> None:
    adapter = build(DeskConfig(url=desk.url, email="bot@example.com", token="t", options={key: 900002}))
    adapter.apply(adapter.get_ticket("2"), TicketChanges(status=Status.SOLVED, resolution="User not responded"))
    raw = desk.raw_ticket("2")
    assert raw["status"] == "solved"
    assert {"id": 900002, "value": "User not responded"} in raw["custom_fields"]
    assert adapter.get_ticket("2").custom_fields["900002"] == "User not responded"


def test_without_a_resolution_field_the_method_of_resolution_is_a_tag(desk: Desk) -> None:
    adapter = build(
        DeskConfig(url=desk.url, email="bot@example.com", token="t", options={"request_type_field": 900001})
    )
    adapter.apply(adapter.get_ticket("2"), TicketChanges(status=Status.SOLVED, resolution="User not responded"))
    raw = desk.raw_ticket("2")
    assert raw["status"] == "solved" and "resolution-user-not-responded" in raw["tags"]


def test_write_from_a_stale_snapshot_is_a_conflict_and_changes_nothing(desk: Desk) -> None:
    snapshot = desk.adapter.get_ticket("2")
    stale = replace(snapshot, version="2020-01-01T00:00:00Z")  # what a snapshot taken before a human's edit carries
    with pytest.raises(Conflict):
        desk.adapter.apply(stale, TicketChanges(assignee_id="103", comment=NewComment("x", Visibility.PUBLIC)))
    after = desk.adapter.get_ticket("2")
    assert after.assignee_id is None and len(after.comments) == 1 and after.version == snapshot.version


def test_write_without_a_version_is_a_plain_update(desk: Desk) -> None:
    """Follow-up writes of one decision carry no version, so the first write's own change cannot block them."""
    desk.adapter.apply(replace(desk.adapter.get_ticket("2"), version=""), TicketChanges(assignee_id="103"))
    assert desk.adapter.get_ticket("2").assignee_id == "103"


def test_invalid_values_are_invalid_request_with_zendesk_details(desk: Desk) -> None:
    ticket = desk.adapter.get_ticket("2")
    with pytest.raises(InvalidRequest) as caught:
        desk.adapter.apply(ticket, TicketChanges(priority="extreme"))
    assert caught.value.details["error"] == "RecordInvalid" and "priority" in caught.value.details["details"]
    with pytest.raises(InvalidRequest):
        desk.adapter.apply(ticket, TicketChanges(assignee_id="99999"))


def test_closed_ticket_cannot_be_changed(desk: Desk) -> None:
    desk.adapter.apply(replace(desk.adapter.get_ticket("2"), version=""), TicketChanges(status=Status.CLOSED))
    with pytest.raises(InvalidRequest) as caught:
        desk.adapter.apply(replace(desk.adapter.get_ticket("2"), version=""), TicketChanges(status=Status.OPEN))
    assert "closed" in str(caught.value.details)


def test_429_surfaces_at_once_with_zendesks_delay_on_a_bulk_write(desk: Desk) -> None:
    """A client that slept out Retry-After would hold the worker; the adapter must hand the delay back instead."""
    ticket_id = desk.open_ticket(CATHY, "Rate limit")
    desk.adapter.me()
    desk.knob("faults", {"count": 1, "status": 429, "retry_after": 45})
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        desk.adapter.bulk_apply({ticket_id: TicketChanges(priority="low")})
    assert caught.value.retry_after == 45 and time.monotonic() - started < 2
    assert desk.raw_ticket(ticket_id)["priority"] is None


def test_spent_minute_budget_is_rate_limited_with_the_seconds_left(desk: Desk) -> None:
    desk.knob("budget", {"per_minute": 2})
    desk.adapter.get_ticket("2")
    with pytest.raises(RateLimited) as caught:
        desk.adapter.get_ticket("1")
        desk.adapter.get_ticket("1")
    assert 1 <= caught.value.retry_after <= 61


def test_find_person_by_email_roles_and_creation(desk: Desk) -> None:
    find = desk.adapter.find_person
    assert find("ALICE@example.com") == Person("101", "Alice Agent", "alice@example.com", Role.AGENT)
    assert find("bot@example.com") == desk.adapter.me() == Person("1", "Helpdesk Bot", "bot@example.com", Role.BOT)
    assert find("nobody@acme.test") is None
    made = find("nobody@acme.test", create=True, name="No Body")
    assert made is not None and (made.name, made.role) == ("No Body", Role.CUSTOMER)
    assert find("nobody@acme.test") == made
    ticket_id = desk.open_ticket("sam@example.com", "Fwd: from nobody")
    desk.adapter.apply(desk.adapter.get_ticket(ticket_id), TicketChanges(requester_id=made.id))
    assert desk.adapter.get_ticket(ticket_id).requester == made


def test_group_agents_with_open_ticket_counts_and_availability(desk: Desk) -> None:
    desk.open_ticket(CATHY, "for bob 1", assignee_id=102)
    desk.open_ticket(GARY, "for bob 2", assignee_id=102)
    solved = desk.open_ticket(GARY, "for carol", assignee_id=103)
    desk.adapter.apply(replace(desk.adapter.get_ticket(solved), version=""), TicketChanges(status=Status.SOLVED))
    desk.sandbox.state.users[103]["user_fields"]["agent_away"] = True  # an admin marks Carol out of office
    loads = {a.agent.id: (a.open_tickets, a.agent.available) for a in desk.adapter.group_agents("201")}
    assert loads == {"101": (1, True), "102": (2, True), "103": (0, False)}
    assert [a.agent.id for a in desk.adapter.group_agents("202")] == ["102"]


def test_group_agents_without_load_spends_no_searches(desk: Desk) -> None:
    before = sum(v for k, v in desk.calls().items() if "search" in k)
    assert {a.open_tickets for a in desk.adapter.group_agents("201", with_load=False)} == {0}
    assert sum(v for k, v in desk.calls().items() if "search" in k) == before


def test_search_pages_through_export_cursors(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter_module, "EXPORT_PAGE", 100)  # 1,000 a page on a real desk
    made = [desk.open_ticket(GARY, f"sweep {i}") for i in range(130)]
    desk.adapter.apply(replace(desk.adapter.get_ticket(made[0]), version=""), TicketChanges(status=Status.PENDING))
    first = desk.adapter.search(TicketQuery(statuses=(Status.NEW,)))
    assert len(first.tickets) == 100 and first.next_cursor is not None
    found = [t.id for t in iter_search(desk.adapter, TicketQuery(statuses=(Status.NEW,)))]
    assert len(found) == len(set(found)) and set(found) == {"2", *made[1:]}  # export orders newest first
    pending = list(iter_search(desk.adapter, TicketQuery(statuses=(Status.PENDING, Status.ON_HOLD))))
    assert [(t.id, t.status) for t in pending] == [(made[0], Status.PENDING)]


def test_search_by_last_update(desk: Desk) -> None:
    raw = desk.raw_ticket("1")
    desk.sandbox.state.tickets[1]["updated_at"] = "2026-01-05T09:00:00Z"  # an old ticket nobody touched since
    query = TicketQuery(statuses=(Status.OPEN,), updated_before=desk.adapter.get_ticket("1").updated_at.replace(day=6))
    assert [t.id for t in iter_search(desk.adapter, query)] == ["1"]
    desk.sandbox.state.tickets[1]["updated_at"] = raw["updated_at"]
    assert list(iter_search(desk.adapter, query)) == []


def test_bulk_apply_250_tickets_in_three_jobs_with_per_ticket_errors(desk: Desk) -> None:
    ids = [desk.open_ticket(GARY, f"bulk {i}") for i in range(248)]
    closed = ids[150]
    desk.adapter.apply(replace(desk.adapter.get_ticket(closed), version=""), TicketChanges(status=Status.CLOSED))
    changes = {i: TicketChanges(add_tags=("bulk-done",), priority="low") for i in [*ids, "999998", "999999"]}
    result = desk.adapter.bulk_apply(changes)
    assert result.jobs == 3
    assert set(result.failed) == {closed, "999998", "999999"}
    assert all(result.errors[i] is None for i in ids if i != closed)
    assert "bulk-done" in desk.raw_ticket(ids[0])["tags"] and desk.raw_ticket(ids[-1])["priority"] == "low"
    assert desk.calls()["PUT /api/v2/tickets/update_many.json"] == 3


def test_linked_issues_belong_to_the_jira_desk(desk: Desk) -> None:
    with pytest.raises(InvalidRequest, match="Jira"):
        desk.adapter.create_linked_issue(desk.adapter.get_ticket("1"), project="DEV", summary="s", description="d")


def test_an_unreachable_desk_is_unavailable_on_every_path() -> None:
    """Connection failures inside zenpy too come out as the protocol's transient error, so the task retries."""
    down = build(DeskConfig(url="http://127.0.0.1:9", email="bot@example.com", token="x", timeout=2))
    with pytest.raises(Unavailable):
        down.me()
    with pytest.raises(Unavailable):
        down.get_ticket("1")
    with pytest.raises(Unavailable):
        down.bulk_apply({"1": TicketChanges(priority="low")})


@pytest.mark.parametrize("ticket_id", ["SD-1", "", "1.5"])
def test_ids_that_are_not_zendesk_ids_are_invalid_requests(desk: Desk, ticket_id: str) -> None:
    with pytest.raises(InvalidRequest, match="numbers"):
        desk.adapter.get_ticket(ticket_id)
    with pytest.raises(InvalidRequest, match="numbers"):
        desk.adapter.group_agents("support")


def test_a_failed_bulk_write_is_sent_once(desk: Desk) -> None:
    """A session that retried a PUT on 503 could write twice; the bot's session leaves retries to the task layer."""
    desk.knob("faults", {"count": 1, "status": 503})
    with pytest.raises(Unavailable):
        desk.adapter.bulk_apply({"2": TicketChanges(add_tags=("once",))})
    assert desk.calls()["PUT /api/v2/tickets/update_many.json"] == 1
    assert "once" not in desk.raw_ticket("2")["tags"]


def test_count_by_requester_or_organization_in_a_window(desk: Desk) -> None:
    """Repeat-customer counts through `/search/count.json`: `requester:`, `organization:`, `created>=`/`created<`."""
    time.sleep(1.1)  # Zendesk times are seconds: after Cathy's seeded ticket, and between the two
    first = desk.open_ticket("cathy@acme.test", "Invoice 1")
    time.sleep(1.1)
    last = desk.adapter.get_ticket(desk.open_ticket("cathy@acme.test", "Invoice 2"))
    desk.open_ticket("gary@globex.test", "Limits")
    since = desk.adapter.get_ticket(first).created_at
    before = {"statuses": (), "created_after": since, "created_before": last.created_at}
    assert desk.adapter.count(TicketQuery(requester_id="301", **before)) == 1  # the first; not the last itself
    assert desk.adapter.count(TicketQuery(organization_id="401", **before)) == 1
    assert desk.adapter.count(TicketQuery(requester_id="301", statuses=(), created_after=since)) == 2
    assert desk.adapter.count(TicketQuery(organization_id="402", statuses=(), created_after=since)) == 1


def test_a_repeat_count_takes_in_tickets_opened_in_the_same_second(desk: Desk) -> None:
    """Zendesk's times are whole seconds: a customer's tickets opened in the second of the one being decided
    count, the ticket itself does not (whether or not the search index lists it yet)."""
    at = "2026-03-03T10:00:07Z"
    ids = [str(desk.sandbox.insert_ticket(301, f"Invoice {n}", updated_at=at)) for n in range(3)]
    last = desk.adapter.get_ticket(ids[-1])
    window = TicketQuery(
        requester_id="301",
        statuses=(),
        created_after=last.created_at - timedelta(days=1),
        created_before=last.created_at,
        exclude_id=last.id,
    )
    assert desk.adapter.count(window) == 2
