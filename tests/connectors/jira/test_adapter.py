"""The Jira adapter against the Jira sandbox over HTTP: what lands on the tickets, and which errors come back.

Every test reads its outcome back from the site (as an agent would see it in Jira), not from the adapter's
own return values; the conftest fails any test whose traffic leaves Atlassian's OpenAPI specs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.errors import InvalidRequest, NotFound, RateLimited, Unavailable
from bot.domain.tickets import NewComment, Person, Role, Status, TicketChanges, TicketQuery, Visibility
from connectors.base import DeskConfig, iter_search
from connectors.jira.adapter import build
from tests.connectors.jira.conftest import Site

DAVE = Person("agent-dave", "Dave Devlead", "dave@example.com", Role.AGENT)


def test_a_seeded_request_reads_back_normalized(site: Site) -> None:
    ticket = site.adapter().get_ticket("SD-1")
    assert (ticket.subject, ticket.description) == ("Invoice copy", "Please send me a copy.")
    assert ticket.status is Status.OPEN and ticket.project == "SD"
    assert (ticket.requester.id, ticket.requester.role) == ("cust-cathy", Role.CUSTOMER)
    assert ticket.assignee_id == "agent-alice"
    assert (ticket.request_type, ticket.organization_id) == ("1", "1")
    assert ticket.url == f"{site.url}/browse/SD-1"


@pytest.mark.parametrize(
    ("channel", "as_user", "expected"),
    [("email", "cathy@acme.test", "email"), (None, "cathy@acme.test", "portal"), (None, "alice@example.com", "api")],
)
def test_a_request_reports_the_channel_it_came_in_by(
    site: Site, channel: str | None, as_user: str, expected: str
) -> None:
    """JSM keeps the channel in the `request.channel.type` property, so `channel:` rules work on JSM too."""
    body = {"serviceDeskId": "1", "requestTypeId": "2", "requestFieldValues": {"summary": "Mail", "description": "x"}}
    if channel:
        body["channel"] = channel
    resp = site.call("POST", "/rest/servicedeskapi/request", as_user, json=body)
    assert resp.status_code == 201, resp.text
    key = resp.json()["issueKey"]
    assert site.adapter().get_ticket(key).channel == expected
    stored = site.call("GET", f"/rest/api/3/issue/{key}/properties/request.channel.type").json()
    assert stored == {"key": "request.channel.type", "value": {"value": expected}}


def test_me_is_the_bot_and_its_own_comments_are_marked_as_the_bot_s(site: Site) -> None:
    desk = site.adapter()
    assert (desk.me().id, desk.me().role) == ("bot-0001", Role.BOT)
    ticket = desk.get_ticket("SD-2")
    desk.apply(ticket, TicketChanges(comment=NewComment("Looking into it.", Visibility.PUBLIC)))
    site.call("POST", "/rest/servicedeskapi/request/SD-2/comment", "gary@globex.test", json={"body": "Thanks!"})
    authors = [(c.body, c.author.role) for c in desk.get_ticket("SD-2").comments]
    assert authors == [("Looking into it.", Role.BOT), ("Thanks!", Role.CUSTOMER)]


def test_one_apply_sets_every_field_in_a_single_put(site: Site) -> None:
    desk = site.adapter()
    key = site.raise_request("Printer on fire", as_user="sam@example.com")
    ticket = desk.get_ticket(key)
    desk.apply(
        ticket,
        TicketChanges(
            assignee_id="agent-bob",
            requester_id="cust-gary",
            request_type="6",
            priority="high",
            add_tags=("helpdesk-bot-triaged", "fire"),
            add_participant_ids=("agent-sam", "cust-cathy"),
        ),
    )
    fields = site.issue(key)["fields"]
    assert fields["assignee"]["accountId"] == "agent-bob"
    assert fields["reporter"]["accountId"] == "cust-gary"  # forwarded mail: the real customer becomes reporter
    assert fields["customfield_10010"]["requestType"]["name"] == "Incident"
    assert fields["priority"]["name"] == "High"
    assert fields["labels"] == ["helpdesk-bot-triaged", "fire"]
    assert [u["accountId"] for u in fields["customfield_10011"]] == ["agent-sam", "cust-cathy"]
    assert site.calls("PUT", "/issue/<ref>") == 1
    assert site.calls("PUT", "/issue/<ref>/assignee") == 0
    desk.apply(desk.get_ticket(key), TicketChanges(remove_tags=("fire",)))
    assert site.issue(key, "labels")["fields"]["labels"] == ["helpdesk-bot-triaged"]


def test_public_replies_reach_the_customer_and_internal_notes_do_not(site: Site) -> None:
    desk = site.adapter()
    ticket = desk.get_ticket("SD-1")
    desk.apply(ticket, TicketChanges(comment=NewComment("Hi Cathy, here is your copy.", Visibility.PUBLIC)))
    desk.apply(ticket, TicketChanges(comment=NewComment("Billing rule matched.", Visibility.INTERNAL)))
    seen_by_agents = {(c.body, c.visibility) for c in desk.get_ticket("SD-1").comments}
    assert seen_by_agents == {
        ("Hi Cathy, here is your copy.", Visibility.PUBLIC),
        ("Billing rule matched.", Visibility.INTERNAL),
    }
    portal = site.call("GET", "/rest/servicedeskapi/request/SD-1/comment", "cathy@acme.test").json()
    assert [c["body"] for c in portal["values"]] == ["Hi Cathy, here is your copy."]


def test_a_long_conversation_is_read_in_full(site: Site) -> None:
    for n in range(130):
        site.call("POST", "/rest/servicedeskapi/request/SD-2/comment", json={"body": f"note {n}", "public": False})
    comments = site.adapter().get_ticket("SD-2").comments
    assert [c.body for c in comments] == [f"note {n}" for n in range(130)]
    assert site.calls("GET", "/rest/servicedeskapi/request/<ref>/comment") == 2


@pytest.mark.parametrize(
    ("status", "resolution", "desk_status", "desk_resolution"),
    [
        (Status.PENDING, None, "Waiting for customer", None),
        (Status.ON_HOLD, None, "Pending", None),
        (Status.SOLVED, None, "Resolved", "Done"),
        (Status.SOLVED, "Won't Do", "Resolved", "Won't Do"),
        (Status.CLOSED, "User not responded", "Closed", "User not responded"),
    ],
)
def test_status_changes_go_through_the_workflow_with_a_resolution(
    site: Site, status: Status, resolution: str | None, desk_status: str, desk_resolution: str | None
) -> None:
    desk = site.adapter()
    desk.apply(desk.get_ticket("SD-2"), TicketChanges(status=status, resolution=resolution))
    fields = site.issue("SD-2", "status,resolution")["fields"]
    assert fields["status"]["name"] == desk_status
    assert (fields["resolution"] or {}).get("name") == desk_resolution
    assert desk.get_ticket("SD-2").status is status


def test_a_status_s_transitions_are_read_once_and_again_when_the_site_refuses_one(site: Site) -> None:
    desk = site.adapter()
    first, second, third = (site.raise_request(f"VPN #{n}") for n in range(3))
    for key in (first, second):  # both "Waiting for support", a Service Request of SD
        desk.apply(desk.get_ticket(key), TicketChanges(status=Status.PENDING))
    assert site.calls("GET", "/transitions") == 1
    ticket = desk.get_ticket(third)
    site.sandbox.control.fail_next(1, 400)  # the kept transition is refused (the workflow changed meanwhile)
    desk.apply(ticket, TicketChanges(status=Status.PENDING))
    assert site.calls("GET", "/transitions") == 2  # read again, then taken
    for key in (first, second, third):
        assert site.issue(key, "status")["fields"]["status"]["name"] == "Waiting for customer"
    fresh = site.adapter(workflow_cache_seconds=0)
    fresh.apply(fresh.get_ticket(first), TicketChanges(status=Status.OPEN))
    assert site.calls("GET", "/transitions") == 3  # 0 keeps nothing


def test_the_transitions_option_picks_among_transitions_reaching_the_same_status(site: Site) -> None:
    desk = site.adapter()
    desk.apply(desk.get_ticket("SD-1"), TicketChanges(status=Status.PENDING))
    desk.apply(desk.get_ticket("SD-1"), TicketChanges(status=Status.OPEN))
    assert site.issue("SD-1", "status")["fields"]["status"]["name"] == "Waiting for support"
    chosen = site.adapter(transitions={"open": "Start progress"})
    chosen.apply(chosen.get_ticket("SD-1"), TicketChanges(status=Status.PENDING))
    chosen.apply(chosen.get_ticket("SD-1"), TicketChanges(status=Status.OPEN))
    assert site.issue("SD-1", "status")["fields"]["status"]["name"] == "In progress"


def test_a_status_no_transition_reaches_is_a_permanent_error_naming_the_options(site: Site) -> None:
    desk = site.adapter()
    with pytest.raises(InvalidRequest) as caught:
        desk.apply(desk.get_ticket("SD-1"), TicketChanges(status=Status.NEW))
    assert "no transition leads to new" in str(caught.value) and "Resolve this issue" in str(caught.value)


def test_a_dev_bug_is_created_linked_and_its_owner_mentioned(site: Site) -> None:
    desk = site.adapter()
    ticket = desk.get_ticket("SD-1")
    linked = desk.create_linked_issue(
        ticket,
        project="DEV",
        summary="Invoice PDF empty",
        description="Seen by Acme.\nSteps: open invoice.",
        comment=NewComment("please have a look", mentions=(DAVE,)),
    )
    assert linked.key == "DEV-1" and linked.url == f"{site.url}/browse/DEV-1"
    dev = site.issue("DEV-1")["fields"]
    assert dev["issuetype"]["name"] == "Bug" and dev["summary"] == "Invoice PDF empty"
    assert [p["content"][0]["text"] for p in dev["description"]["content"]] == ["Seen by Acme.", "Steps: open invoice."]
    assert [(link["type"]["name"], link["inwardIssue"]["key"]) for link in dev["issuelinks"]] == [("Relates", "SD-1")]
    comment = dev["comment"]["comments"][0]["body"]["content"][0]["content"]
    assert comment[0] == {"type": "mention", "attrs": {"id": "agent-dave", "text": "@Dave Devlead"}}
    assert comment[-1]["text"] == "please have a look"


def test_on_data_center_the_mention_is_wiki_markup_over_rest_v2(site: Site) -> None:
    desk = site.adapter(deployment="datacenter")
    linked = desk.create_linked_issue(
        desk.get_ticket("SD-2"),
        project="DEV",
        summary="Limits unclear",
        description="plain text",
        comment=NewComment("FYI", mentions=(DAVE,)),
    )
    resp = site.call("GET", f"/rest/api/2/issue/{linked.key}", params={"fields": "description,comment"})
    fields = resp.json()["fields"]
    assert fields["description"] == "plain text"
    assert fields["comment"]["comments"][0]["body"] == "[~agent-dave] FYI"  # Data Center mentions by username
    assert site.sandbox.control.calls["POST /rest/api/<int(min=2,max=3):v>/issue"] == 1
    writes = [p for p in site.recorder.paths if not p.startswith("GET")]
    assert writes == [
        "POST /rest/api/2/issue",
        "POST /rest/api/2/issueLink",
        f"POST /rest/api/2/issue/{linked.key}/comment",
    ]


def test_search_pages_with_next_page_token_and_filters_by_status_and_age(site: Site) -> None:
    made = [site.raise_request(f"bulk {n}", as_user="gary@globex.test") for n in range(130)]
    desk = site.adapter()
    desk.apply(desk.get_ticket(made[0]), TicketChanges(status=Status.PENDING))
    first = desk.search(TicketQuery(statuses=(Status.NEW, Status.OPEN)))
    assert len(first.tickets) == 100 and first.next_cursor
    second = desk.search(TicketQuery(statuses=(Status.NEW, Status.OPEN)), first.next_cursor)
    assert second.next_cursor is None
    found = [t.id for t in first.tickets + second.tickets]
    assert found == ["SD-1", "SD-2", *made[1:]]
    pending = list(iter_search(desk, TicketQuery(statuses=(Status.PENDING,))))
    assert [(t.id, t.status) for t in pending] == [(made[0], Status.PENDING)]
    stale = TicketQuery(statuses=(Status.OPEN,), updated_before=datetime.now(UTC) - timedelta(days=3))
    assert list(iter_search(desk, stale)) == []


def test_people_are_found_by_email_and_customers_created_in_the_service_desk(site: Site) -> None:
    desk = site.adapter()
    cathy = desk.find_person("Cathy@Acme.test")
    assert cathy is not None and (cathy.id, cathy.role, cathy.name) == ("cust-cathy", Role.CUSTOMER, "Cathy Customer")
    assert desk.find_person("newbie@acme.test") is None
    made = desk.find_person("newbie@acme.test", create=True, name="New Bie")
    assert made is not None and made.role is Role.CUSTOMER and made.name == "New Bie"
    assert desk.find_person("newbie@acme.test") == made


def test_group_agents_count_open_tickets_only_when_asked(site: Site) -> None:
    desk = site.adapter()
    key = site.raise_request("for bob")
    desk.apply(desk.get_ticket(key), TicketChanges(assignee_id="agent-bob"))
    loads = {a.agent.id: a.open_tickets for a in desk.group_agents("support")}
    assert loads == {"agent-alice": 1, "agent-bob": 1, "agent-carol": 0}
    desk.apply(desk.get_ticket(key), TicketChanges(status=Status.SOLVED))
    assert {a.agent.id: a.open_tickets for a in desk.group_agents("support")}["agent-bob"] == 0
    before = site.calls("POST", "/search/approximate-count")
    assert [a.open_tickets for a in desk.group_agents("escalations", with_load=False)] == [0]
    assert site.calls("POST", "/search/approximate-count") == before


def test_bulk_apply_reports_each_ticket_and_goes_on_after_a_permanent_error(site: Site) -> None:
    desk = site.adapter()
    keys = [site.raise_request(f"old {n}") for n in range(3)]
    changes = {key: TicketChanges(add_tags=("swept",)) for key in keys}
    changes[keys[1]] = TicketChanges(request_type="99")
    result = desk.bulk_apply(changes)
    assert result.jobs == 3 and set(result.failed) == {keys[1]}
    assert "HTTP 400" in result.failed[keys[1]]
    assert [site.issue(k, "labels")["fields"]["labels"] for k in (keys[0], keys[2])] == [["swept"], ["swept"]]


# --- errors ------------------------------------------------------------------------------------------


def test_429_is_rate_limited_with_the_server_s_delay_and_never_retried_by_the_client(site: Site) -> None:
    desk = site.adapter()
    ticket = desk.get_ticket("SD-1")
    site.sandbox.control.fail_next(1, 429, retry_after=42)
    before = site.sandbox.control.total_calls()
    with pytest.raises(RateLimited) as caught:
        desk.apply(ticket, TicketChanges(assignee_id="agent-carol"))
    assert caught.value.retry_after == 42
    assert site.sandbox.control.total_calls() - before == 1
    assert site.issue("SD-1", "assignee")["fields"]["assignee"]["accountId"] == "agent-alice"


def test_a_spent_budget_answers_with_jira_s_rate_limit_headers(site: Site) -> None:
    site.sandbox.control.per_minute = 2
    first = site.call("GET", "/rest/api/3/myself")
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    site.call("GET", "/rest/api/3/myself")
    with pytest.raises(RateLimited) as caught:
        site.adapter().get_ticket("SD-1")
    assert 1 <= caught.value.retry_after <= 61


def test_an_unknown_issue_is_not_found(site: Site) -> None:
    with pytest.raises(NotFound):
        site.adapter().get_ticket("SD-404")


def test_a_rejected_write_is_invalid_and_keeps_jira_s_error_messages(site: Site) -> None:
    desk = site.adapter()
    with pytest.raises(InvalidRequest) as caught:
        desk.apply(desk.get_ticket("SD-1"), TicketChanges(assignee_id="nobody-here"))
    assert caught.value.details == {"errorMessages": [], "errors": {"assignee": "User 'nobody-here' does not exist."}}
    with pytest.raises(InvalidRequest) as unknown:
        desk.apply(desk.get_ticket("SD-1"), TicketChanges(status=Status.SOLVED, resolution="Fixed"))
    assert unknown.value.details["errors"] == {"resolution": "Resolution 'Fixed' is not valid."}


def test_a_server_error_is_transient_and_a_refused_connection_too(site: Site) -> None:
    desk = site.adapter()
    site.sandbox.control.fail_next(1, 503)
    with pytest.raises(Unavailable):
        desk.get_ticket("SD-1")
    gone = build(DeskConfig(url="http://127.0.0.1:9", email="bot@example.com", token="x", timeout=2))
    with pytest.raises(Unavailable):
        gone.get_ticket("SD-1")


def test_search_asks_only_for_statuses_the_project_has_and_honours_the_status_map(site: Site) -> None:
    """Jira answers 400 to JQL naming a status the site lacks ("Escalated" is in the default map, not here)."""
    pending, on_hold = site.raise_request("waiting"), site.raise_request("parked")
    desk = site.adapter(status_map={"Pending": "pending"})
    desk.apply(desk.get_ticket(pending), TicketChanges(status=Status.PENDING))
    site.call("POST", f"/rest/api/3/issue/{on_hold}/transitions", json={"transition": {"id": "31"}})
    found = [t.id for t in iter_search(desk, TicketQuery(statuses=(Status.PENDING,)))]
    assert found == [pending, on_hold]
    assert [t.id for t in iter_search(site.adapter(), TicketQuery(statuses=(Status.ON_HOLD,)))] == [on_hold]
    assert site.calls("GET", "/project/<key>/statuses") == 2  # once per adapter, not per search


def test_a_dev_project_issue_reads_its_comments_from_the_platform_api(site: Site) -> None:
    """A dev bug is no service request (JSM answers 404 for it): its comments come from the issue itself."""
    desk = site.adapter()
    source = desk.get_ticket("SD-1")
    bug = desk.create_linked_issue(
        source, project="DEV", summary="Export crashes", description="1. export", comment=NewComment("Please look")
    )
    assert site.call("GET", f"/rest/servicedeskapi/request/{bug.key}/comment").status_code == 404
    read = desk.get_ticket(bug.key)
    assert read.project == "DEV" and [c.body for c in read.comments] == ["Please look"]
    assert read.comments[0].visibility is Visibility.INTERNAL


def test_count_by_requester_or_organization_leaves_the_ticket_itself_out(site: Site) -> None:
    """Repeat-customer counts: JQL `reporter` / `Organizations = "<name>"` in a time window, this key left out."""
    adapter = site.adapter()
    keys = [site.raise_request(f"Invoice {n}") for n in range(3)]  # Cathy, Acme, besides the seeded SD-1
    site.raise_request("Limits", as_user="gary@globex.test")
    last = adapter.get_ticket(keys[-1])
    assert last.organization_name == "Acme"
    window = {"statuses": (), "created_after": last.created_at - timedelta(hours=1), "exclude_id": last.id}
    assert adapter.count(TicketQuery(requester_id="cust-cathy", **window)) == 3  # SD-1 and the two before
    org = TicketQuery(organization_id="1", organization_name="Acme", created_before=last.created_at, **window)
    assert adapter.count(org) == 3
    since_now = TicketQuery(requester_id="cust-cathy", statuses=(), created_after=last.created_at + timedelta(hours=1))
    assert adapter.count(since_now) == 0
