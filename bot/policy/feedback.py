"""The feedback runbook: a feedback ticket becomes an idea in the product-feedback tool, then the customer is
told its reference. New tickets of type *feedback* are recorded; an older ticket when an agent tags it
`helpdesk-bot-feedback` (never by a mere update, so an upgrade does not write to old tickets).

Two steps, registered one after the other (`tasks/registry.py`), so the reply is only written once the idea
exists: `decide_record` asks for the idea (an Aha! idea in `feedback.aha.product`, or an issue of the Jira
project `feedback.jira.project`) when the gather step found none for the ticket; `decide_reply`, which runs
next on the re-read ticket, finds it and writes the internal note with its link and the customer reply that
names it ("recorded as idea APP-I-12"), replacing triage's first response for feedback tickets. When the
policy names a tool the bot cannot reach (AHA_URL unset), the reply says what triage would have said and the
note says why nothing was recorded.

Once: the tool is asked for the ticket's record before one is created (a redelivered event, a replay, or a
worker killed between the create and the note finds it), and the tag `helpdesk-bot-feedback-recorded`
stops later events of the ticket.
"""

from __future__ import annotations

from typing import Any

from bot.domain.actions import Action, Comment, RecordFeedback, Tag
from bot.domain.events import EventKind
from bot.domain.tickets import Ticket, Visibility
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy
from bot.policy.templates import SAMPLE_VALUES, render
from bot.policy.triage import _first_name
from connectors.feedback.records import Idea

REQUEST_TYPE = "feedback"
ASK_TAG = "helpdesk-bot-feedback"
"""Agents add it to record a ticket's feedback later (a new ticket needs none: its type decides)."""
RECORDED_TAG = "helpdesk-bot-feedback-recorded"
"""The bot adds it with the reply, so later events of the ticket do not record or answer again."""
RULE = "feedback"


def is_feedback(ticket: Ticket, policy: Policy) -> bool:
    stored = policy.desk(ticket.desk).request_type_value(REQUEST_TYPE)
    return ticket.request_type in (REQUEST_TYPE, stored)


def skip_reason(s: Situation) -> str | None:
    """Why neither step acts on this ticket (None: record it and answer). The gather step asks this first,
    so tickets that are not feedback cost no call to the tool."""
    if not s.policy.feedback.records:
        return "feedback is not recorded (no feedback.aha or feedback.jira in the policy)"
    if s.policy.shadow(s.desk):
        return f"desks.{s.desk} is in shadow mode: nothing recorded"
    if RECORDED_TAG in s.ticket.tags and not s.replaying:
        return f"already recorded (tag {RECORDED_TAG})"
    if ASK_TAG in s.ticket.tags:
        return None
    if s.event is not None and s.event.kind is not EventKind.TICKET_CREATED:
        return f"not a new ticket (agents ask for it to be recorded with the tag {ASK_TAG})"
    if not is_feedback(s.ticket, s.policy):
        return "not feedback"
    return None


def decide_record(s: Situation) -> Verdict:
    skip = skip_reason(s)
    if skip is not None:
        return Verdict(skip)
    if s.facts.get("tool") is None:
        return Verdict("no feedback tool reachable (see the reply step's note)")
    idea: Idea | None = s.facts.get("idea")
    if idea is not None:
        return Verdict(f"already recorded in {s.facts['tool']} as {idea.reference}")
    text = s.ticket.description
    action = RecordFeedback(rule=RULE, why="a feedback ticket", title=s.ticket.subject, text=text)
    return Verdict(f"record in {s.facts['tool']}", (action,))


def decide_reply(s: Situation) -> Verdict:
    skip = skip_reason(s)
    if skip is not None:
        return Verdict(skip)
    tool: str | None = s.facts.get("tool")
    idea: Idea | None = s.facts.get("idea")
    actions: list[Action] = []
    if tool is None:
        note = (
            "Feedback not recorded: the policy names a feedback tool the bot cannot reach "
            "(set AHA_URL and AHA_API_KEY for feedback.aha, JIRA_URL for feedback.jira)."
        )
        reply, outcome = "first_response.feedback", "no feedback tool reachable: the usual reply"
    elif idea is None:
        return Verdict(f"not recorded in {tool} yet: no reply")
    else:
        note = f"Feedback recorded in {tool} as {idea.reference}: {idea.url}"
        reply, outcome = "feedback_recorded", f"recorded as {idea.reference}: customer told"
    actions.append(Comment(rule=RULE, why="where the feedback is recorded", body=note))
    if s.policy.triage.first_response:
        body = render(reply, s.policy.templates, _values(s.ticket, s.policy, idea))
        why = "the feedback reply, once the idea exists"
        actions.append(Comment(rule=RULE, why=why, body=body, visibility=Visibility.PUBLIC, template=reply))
    actions.append(Tag(rule=RULE, why="marks the feedback recorded and answered (idempotency)", add=(RECORDED_TAG,)))
    return Verdict(outcome, tuple(actions))


def _values(ticket: Ticket, policy: Policy, idea: Idea | None) -> dict[str, Any]:
    """The variables of the reply: those of triage's first response, and the idea's reference."""
    requester = ticket.requester
    return {
        **dict.fromkeys(SAMPLE_VALUES),  # a variable of another runbook's texts is empty here, never an error
        "customer_name": _first_name(requester.name or requester.email or "there"),
        "customer_email": requester.email,
        "ticket_id": ticket.id,
        "ticket_url": ticket.url,
        "request_type": REQUEST_TYPE,
        "request_type_name": policy.triage.request_types.get(REQUEST_TYPE, REQUEST_TYPE),  # type: ignore[call-overload]
        "phone": policy.service_desk.phone,
        "hours": policy.service_desk.hours,
        "idea_reference": idea.reference if idea else None,
    }
