"""What the bot decides to do to a ticket, as plain values.

Policy functions return these; the executor in `tasks/` turns them into connector writes. Each action
names the rule that produced it and why, so dry-runs, replays and the audit trail can show the
reasoning next to the effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.tickets import Status, Visibility

UNSET_HIDDEN = ("desk", "ticket_id", "audit")
"""Keys `describe` leaves out while unset, so records made before they existed compare equal (`replay`)."""


@dataclass(frozen=True)
class Action:
    rule: str = ""
    why: str = ""
    desk: str | None = None
    """The desk the action acts on; None is the ticket's own desk. A Zendesk ticket's bug names `jira`."""
    ticket_id: str | None = None
    """The ticket the action acts on; None is the ticket the runbook decided about (a dev bug's status
    change writes to the support ticket it was filed for)."""

    def describe(self) -> dict[str, Any]:
        """Flat, JSON-friendly view for the event log, `replay` diffs and dry-run output."""
        out: dict[str, Any] = {"action": type(self).__name__}
        for key, value in vars(self).items():
            if key in ("rule", "why") or (key in UNSET_HIDDEN and value in (None, False)):
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        out["rule"] = self.rule
        out["why"] = self.why
        return out


@dataclass(frozen=True)
class Assign(Action):
    agent_id: str | None = None
    group_id: str | None = None


@dataclass(frozen=True)
class SetRequestType(Action):
    request_type: str = ""


@dataclass(frozen=True)
class SetReporter(Action):
    """Make the person with this email the ticket's reporter/requester (created as customer if new)."""

    email: str = ""
    name: str | None = None


@dataclass(frozen=True)
class AddParticipants(Action):
    """Keep these people in the loop (Zendesk CCs, JSM request participants); emails or person ids."""

    emails: tuple[str, ...] = ()
    person_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comment(Action):
    body: str = ""
    visibility: Visibility = Visibility.INTERNAL
    template: str | None = None
    audit: bool = False
    """The bot's own audit of the write it comes with (the triage note): on a desk that keeps such notes in a
    field (`audit_field`) it travels in that same write instead of costing one more update for a comment."""


@dataclass(frozen=True)
class SetStatus(Action):
    status: Status = Status.OPEN


@dataclass(frozen=True)
class SetPriority(Action):
    """Set the ticket's priority to `priority`, the desk's own name for it (`desks.<desk>.priorities`)."""

    priority: str = ""


@dataclass(frozen=True)
class Resolve(Action):
    resolution: str = "Done"


@dataclass(frozen=True)
class Tag(Action):
    """Tags (Zendesk) / labels (Jira) to add, and the bot's own to take off (a customer reply clears strikes)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordStep(Action):
    """The follow-up step just taken, as its marker, kept where a desk search returns it (a ticket field).

    The copy in the field lets a sweep decide the ladder's next step from a search result alone, without
    reading each ticket's comments (see `tasks/sweeps.py`). With `notes`, the field also carries the step's
    notes for agents (then there are no internal comments: one update carries one comment, and the customer's
    message is that comment); without, an internal note with the same marker is what agents read.
    Desks without such a field configured ignore it.
    """

    marker: str = ""
    notes: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """What the field holds: the notes, if any, then the marker on its own last line."""
        return "\n\n".join((*self.notes, self.marker)) if self.notes else self.marker


@dataclass(frozen=True)
class SetFields(Action):
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateLinkedBug(Action):
    """An issue in another project (on `desk`, e.g. Jira's dev project) linked to the ticket.

    Carried out at most once per ticket: the executor looks the linked issue up before creating it. The
    issue gets `comment` (mentioning `mention_email`'s person); the ticket gets `note` with its key and URL.
    """

    project: str = ""
    summary: str = ""
    description: str = ""
    issue_type: str = "Bug"
    mention_email: str | None = None
    comment: str = ""
    note: str = "Linked issue:"


@dataclass(frozen=True)
class PostChat(Action):
    """A message to a chat channel of the policy's `chat.webhooks` (Slack or Google Chat incoming webhook).

    Sent after the ticket's own writes of the same plan, and at most once: a chat post cannot be looked up
    afterwards, so a run killed mid-post is not repeated (the ticket's note documents the attempt anyway)."""

    channel: str = ""
    text: str = ""
    thread_key: str | None = None
    once: str | None = None
    """Set: posted at most once per this key across every plan (a duplicate delivery, a replay or a later
    sweep deciding the same message again), not only within its own plan (escalation alerts)."""


@dataclass(frozen=True)
class RecordFeedback(Action):
    """Record the ticket's feedback in the feedback tool (an Aha! idea, or an issue of a Jira project).

    Carried out at most once per ticket: the tool is asked for the ticket's record before one is created.
    """

    title: str = ""
    text: str = ""
