"""Feedback as issues of a Jira project (the alternative to Aha!): once per ticket, linked back to it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.tickets import Person, Role, Status, Ticket
from connectors.feedback.jira_target import JiraFeedback
from connectors.feedback.records import Feedback
from tests.adf import assert_valid_adf
from tests.connectors.jira.conftest import Site


def test_a_jsm_ticket_s_feedback_becomes_one_linked_issue(site: Site) -> None:
    desk = site.adapter()
    target = JiraFeedback(desk, project="DEV", issue_type="Task")
    ticket = desk.get_ticket("SD-2")
    first = target.record(Feedback(ticket, text="It would be great to export limits as CSV."))
    again = target.record(Feedback(ticket))  # a redelivered webhook or a replay
    assert first.created and not again.created and again.reference == first.reference
    assert site.calls("POST", "/issue") == 1
    fields = site.issue(first.reference)["fields"]
    assert (fields["issuetype"]["name"], fields["summary"]) == ("Task", "Question about limits")
    assert_valid_adf(fields["description"])
    assert [link["inwardIssue"]["key"] for link in fields["issuelinks"]] == ["SD-2"]
    assert "export limits as CSV" in desk.get_ticket(first.reference).description


def test_a_zendesk_ticket_s_feedback_links_back_by_url(site: Site) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ticket = Ticket(
        desk="zendesk",
        id="42",
        subject="Dark mode please",
        description="Our night shift would love a dark mode.",
        status=Status.OPEN,
        requester=Person("301", "Cathy Customer", "cathy@acme.test", Role.CUSTOMER),
        created_at=now,
        updated_at=now,
        version="v1",
        url="https://acme.zendesk.com/agent/tickets/42",
    )
    target = JiraFeedback(site.adapter(), project="DEV", issue_type="Task")
    idea = target.record(Feedback(ticket))
    assert idea.created and target.record(Feedback(ticket)).reference == idea.reference
    text = site.adapter().get_ticket(idea.reference).description
    assert "Cathy Customer <cathy@acme.test>" in text and "https://acme.zendesk.com/agent/tickets/42" in text
    assert site.calls("POST", "/remotelink") == 1
