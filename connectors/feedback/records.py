"""What the feedback runbook hands a feedback tool, and what it gets back: the same for every tool."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.domain.tickets import Ticket


@dataclass(frozen=True)
class Feedback:
    """A ticket's feedback. `title` and `text` default to the ticket's subject and description."""

    ticket: Ticket
    title: str | None = None
    text: str | None = None

    @property
    def name(self) -> str:
        return ((self.title if self.title is not None else self.ticket.subject).strip() or "Feedback from a customer")[
            :255
        ]

    @property
    def body(self) -> str:
        return self.text if self.text is not None else self.ticket.description

    @property
    def ticket_ref(self) -> str:
        """The ticket's desk and id in lower-case words (`zendesk-42`, `jira-sd-7`): unique across desks."""
        return "-".join(re.findall(r"[a-z0-9]+", f"{self.ticket.desk}-{self.ticket.id}".lower()))


@dataclass(frozen=True)
class Idea:
    """Where the feedback was recorded."""

    id: str
    reference: str
    """What agents and customers are told: an Aha! reference (APP-I-12) or a Jira key (FEED-3)."""
    name: str
    url: str
    created: bool
    """False when the ticket's record already existed (nothing was written)."""


class FeedbackTarget(Protocol):
    @property
    def label(self) -> str:
        """The tool's name in notes to agents (`Aha!`, `Jira`)."""
        ...

    def find(self, feedback: Feedback) -> Idea | None:
        """The ticket's record in the tool, if there is one (a read: dry runs and the reply ask it)."""
        ...

    def record(self, feedback: Feedback) -> Idea:
        """The ticket's record in the tool: found when it exists, else created (once per ticket)."""
        ...
