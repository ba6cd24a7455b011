"""Runbooks that exist only to exercise the registry end to end (loaded through
HELPDESK_BOT_RUNBOOK_PLUGINS=tests.runbooks.demo, as a deployment adds its own):

- `demo-ack` runs on `ticket_created` after triage and records whether triage's tag was already there;
- `demo-bug` turns a Zendesk ticket whose subject says "[bug]" into an issue in the Jira sandbox's DEV
  project (a cross-desk action);
- `demo-nudge` is periodic: pending tickets not updated for a day get one public nudge.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.actions import Comment, CreateLinkedBug, Tag
from bot.domain.events import EventKind
from bot.domain.tickets import Status, TicketQuery, Visibility
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy
from tasks.registry import Runbook, Schedule

ACKED = "demo-acknowledged"
NUDGED = "demo-nudged"
QUIET = timedelta(days=1)


def acknowledge(s: Situation) -> Verdict:
    if ACKED in s.ticket.tags:
        return Verdict("already acknowledged")
    saw = "helpdesk-bot-triaged" in s.ticket.tags
    note = Comment(rule="demo-ack", why="second runbook", body=f"demo-ack: triage ran first: {saw}")
    return Verdict("acknowledged", (note, Tag(rule="demo-ack", why="marks it done", add=(ACKED,))))


def escalate(s: Situation) -> Verdict:
    if "[bug]" not in s.ticket.subject.lower():
        return Verdict("not a bug report")
    bug = CreateLinkedBug(
        rule="demo-bug",
        why="the subject says [bug]",
        desk="jira",
        project="DEV",
        summary=s.ticket.subject,
        description=s.ticket.description,
        comment="Please have a look.",
        note="Bug filed:",
    )
    return Verdict("bug filed", (bug,))


def pending_and_quiet(policy: Policy, desk: str, now: datetime) -> TicketQuery:
    return TicketQuery(statuses=(Status.PENDING,), updated_before=now - QUIET)


def nudge(s: Situation) -> Verdict:
    if NUDGED in s.ticket.tags:
        return Verdict("already nudged")
    due = s.ticket.updated_at + QUIET
    if s.now < due:
        return Verdict("waiting on the customer", due=due)
    text = "Hello again: is there any news on your side?"
    public = Comment(rule="demo-nudge", why="pending and quiet for a day", body=text, visibility=Visibility.PUBLIC)
    return Verdict("nudged", (public, Tag(rule="demo-nudge", why="nudge once", add=(NUDGED,))))


RUNBOOKS = (
    Runbook("demo-ack", acknowledge, on=(EventKind.TICKET_CREATED,)),
    Runbook("demo-bug", escalate, on=(EventKind.TICKET_CREATED,), desks=("zendesk",)),
    Runbook("demo-nudge", nudge, schedule=Schedule(every=timedelta(hours=1), select=pending_and_quiet)),
)
