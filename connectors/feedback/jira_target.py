"""Feedback as issues of a Jira project: the alternative to Aha! for teams that track ideas in Jira.

The issue is created through the Jira desk's own adapter (`Helpdesk.create_linked_issue`): in the
configured project, with the ticket's subject and text, labelled with the ticket's reference and linked
back to it (an issue link for a JSM ticket, a remote link for a Zendesk one). `find_linked_issue` looks
that label up first, so a ticket gets one feedback issue however often its event is delivered. Use a
project of its own for feedback: the dev project's bugs carry the same label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connectors.base import Helpdesk
from connectors.feedback.records import Feedback, Idea


@dataclass(frozen=True)
class JiraFeedback:
    desk: Helpdesk
    """The Jira desk's adapter."""
    project: str
    issue_type: str = "Task"
    label: ClassVar[str] = "Jira"

    def find(self, feedback: Feedback) -> Idea | None:
        """`find_linked_issue`: JQL on the ticket's label in the project."""
        found = self.desk.find_linked_issue(feedback.ticket, project=self.project)
        if found is None:
            return None
        return Idea(found.id or found.key, found.key, feedback.name, found.url or "", created=False)

    def record(self, feedback: Feedback) -> Idea:
        """The ticket's issue (`find`), else `create_linked_issue` in the project."""
        found = self.find(feedback)
        if found is not None:
            return found
        requester = feedback.ticket.requester
        who = requester.name or requester.email or "a customer"
        if requester.email and requester.name:
            who = f"{requester.name} <{requester.email}>"
        description = f"{feedback.body}\n\nFrom: {who}" + (
            f"\nTicket: {feedback.ticket.url}" if feedback.ticket.url else ""
        )
        made = self.desk.create_linked_issue(
            feedback.ticket,
            project=self.project,
            summary=feedback.name,
            description=description,
            issue_type=self.issue_type,
        )
        return Idea(made.id or made.key, made.key, feedback.name, made.url or "", created=True)
