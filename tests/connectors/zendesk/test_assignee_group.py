"""An assignee belongs to the ticket's group on Zendesk: the sandbox refuses one who does not, as Zendesk does,
and the adapter moves the ticket to the new assignee's default group when theirs is not the ticket's."""

from __future__ import annotations

from bot.domain.tickets import TicketChanges
from tests.connectors.zendesk.conftest import Desk


def test_zendesk_refuses_an_assignee_outside_the_tickets_group(desk: Desk) -> None:
    ticket_id = desk.open_ticket("cathy@acme.test", "Enable SSO")
    assert desk.as_user(
        "alice@example.com", "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"group_id": 201}}
    ).ok
    refused = desk.as_user(
        "alice@example.com", "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"assignee_id": 105}}
    )
    assert refused.status_code == 422
    assert refused.json()["details"]["assignee"] == [{"description": "Assignee: is not a member of the group"}]
    moved = {"ticket": {"assignee_id": 105, "group_id": 203}}  # with one of Sam's groups it is fine
    assert desk.as_user("alice@example.com", "PUT", f"/api/v2/tickets/{ticket_id}.json", moved).ok


def test_a_ticket_without_a_group_takes_the_assignees_default_group(desk: Desk) -> None:
    ticket_id = desk.open_ticket("cathy@acme.test", "Enable SSO")
    assert desk.as_user(
        "alice@example.com", "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": {"assignee_id": 105}}
    ).ok
    ticket = desk.adapter.get_ticket(ticket_id)
    assert (ticket.assignee_id, ticket.group_id) == ("105", "203")


def test_the_adapter_brings_the_new_assignees_default_group_along(desk: Desk) -> None:
    ticket_id = desk.open_ticket("cathy@acme.test", "Enable SSO")
    desk.adapter.apply(desk.adapter.get_ticket(ticket_id), TicketChanges(assignee_id="101", group_id="201"))
    desk.adapter.apply(desk.adapter.get_ticket(ticket_id), TicketChanges(assignee_id="105"))  # Sam: not in Support
    ticket = desk.adapter.get_ticket(ticket_id)
    assert (ticket.assignee_id, ticket.group_id) == ("105", "203")
    desk.adapter.apply(ticket, TicketChanges(assignee_id="102", group_id="202"))
    desk.adapter.apply(desk.adapter.get_ticket(ticket_id), TicketChanges(assignee_id="102"))
    assert desk.adapter.get_ticket(ticket_id).group_id == "202"  # Bob is in Escalations too: it stays
