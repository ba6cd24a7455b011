"""Triage of a new ticket, decided in two pure steps around the I/O the task does in between.

`plan_triage` says whether to triage at all, which request type, and whom to ask for candidates;
the task then lists the group's agents and takes a round-robin turn; `decide_triage` turns all of it
into actions, each carrying the rule and the reasoning behind it (shown in `events`, `replay`, dry runs
and the internal triage note).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain.actions import (
    Action,
    AddParticipants,
    Assign,
    Comment,
    Resolve,
    SetReporter,
    SetRequestType,
    SetStatus,
    Tag,
)
from bot.domain.tickets import AgentLoad, Person, Status, Ticket, Visibility
from bot.policy.assign import choose_agent
from bot.policy.classify import Classification, classify
from bot.policy.forwarded import Forwarded, parse_forwarded
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Assignment, Policy
from bot.policy.templates import render

TRIAGED_TAG = "helpdesk-bot-triaged"
"""Marks a ticket the bot has triaged: a redelivered or replayed creation event finds it and stops."""


@dataclass(frozen=True)
class TriagePlan:
    """What `plan_triage` found, and what the task must fetch before `decide_triage` can finish.

    `skip` set: do nothing (the reason is recorded). Otherwise, when `needs_agent`, the task lists the agents
    of `group_id` (open-ticket counts unless `pool` is set) and, when `pool` is set, takes a round-robin turn
    for it; `shadow` means record the decision but write nothing.
    """

    skip: str | None
    classification: Classification | None = None
    assignment: Assignment | None = None
    group_id: str | None = None
    needs_agent: bool = False
    assignment_note: str = ""
    forwarded: Forwarded | None = None
    shadow: bool = False
    opened_before: bool = False
    """On a replay: the first run opened the ticket (so it is no longer new because of the bot)."""
    phone_answer: bool = False
    """A phone-only request the customer wrote themselves: answered with the phone instructions and resolved."""

    @property
    def rule(self) -> str:
        return self.classification.rule_name if self.classification else "-"

    @property
    def request_type(self) -> str:
        return self.classification.request_type if self.classification else "-"

    @property
    def pool(self) -> str | None:
        """The round-robin pool (one rotation per group), when this plan assigns by round-robin."""
        if self.needs_agent and self.assignment and self.assignment.strategy == "round_robin":
            return self.assignment.group
        return None


def plan_triage(
    ticket: Ticket, policy: Policy, desk: str, now: datetime, previous: Sequence[Mapping[str, Any]] | None = None
) -> TriagePlan:
    """Whether to triage `ticket` at all, its classification, and whom to ask for candidate agents.

    Never triaged twice (the tag), never once agents have moved it on (pending, solved...), and never
    reassigned when a person already chose an assignee. On a replay, `previous` holds the actions of the
    first triage: the tag, the assignee and the status they set are the bot's own doing, so the replay
    decides as the first run did and shows which actions still hold.
    """
    if not policy.triage.enabled:
        return TriagePlan(skip="triage is disabled in the policy")
    if TRIAGED_TAG in ticket.tags and previous is None:
        return TriagePlan(skip=f"already triaged (tag {TRIAGED_TAG})")
    own = previous or ()
    bot_set_status = any(a.get("action") in ("Resolve", "SetStatus") for a in own)
    if ticket.status not in (Status.NEW, Status.OPEN) and not bot_set_status:
        return TriagePlan(skip=f"ticket is {ticket.status.value}, not new")
    bot_assignees = {a.get("agent_id") for a in own if a.get("action") == "Assign"}
    classification = classify(ticket, policy)
    rule = classification.rule
    assignment = rule.assign if rule and rule.assign else policy.triage.default.assign
    options = policy.desk(desk)
    group_id = options.groups.get(assignment.group) if assignment else None
    phone_answer = classification.request_type == "phone_only" and ticket.channel in policy.triage.phone_only_channels
    if phone_answer:
        needs_agent, note = False, "phone-only request: resolved with the phone instructions, not assigned"
    elif ticket.assignee_id and ticket.assignee_id not in bot_assignees:
        needs_agent, note = False, f"already assigned to {ticket.assignee_id} by a person: never reassigned"
    elif assignment is None:
        needs_agent, note = False, "no assignment configured for this rule"
    elif group_id is None:
        needs_agent, note = False, f"group {assignment.group!r} has no id in desks.{desk}.groups"
    else:
        needs_agent, note = True, ""
    forwarded = _forwarded(ticket, policy)
    return TriagePlan(
        skip=None,
        classification=classification,
        assignment=assignment,
        group_id=group_id,
        needs_agent=needs_agent,
        assignment_note=note,
        forwarded=forwarded,
        shadow=options.shadow or bool(rule and rule.shadow),
        opened_before=any(a.get("action") == "SetStatus" for a in own),
        phone_answer=phone_answer,
    )


def decide(situation: Situation) -> Verdict:
    """The triage runbook's decision (see `tasks/triage.py` for the facts it is given)."""
    s = situation
    plan = s.facts.get("plan") or plan_triage(s.ticket, s.policy, s.desk, s.now, s.previous)
    if plan.skip:
        return Verdict(f"not triaged: {plan.skip}")
    actions = decide_triage(plan, s.ticket, s.policy, s.now, list(s.facts.get("agents", [])), s.facts.get("turn"))
    if plan.shadow:
        return Verdict(
            f"shadow: would triage as {plan.request_type} (rule {plan.rule})",
            tuple(actions),
            shadow=shadow_record(actions, plan),
        )
    return Verdict(f"triaged as {plan.request_type} (rule {plan.rule})", tuple(actions))


def shadow_record(actions: Sequence[Action], plan: TriagePlan) -> dict[str, Any]:
    """What the bot would have set, in the terms `shadow-report` compares with agents' own choices."""
    out: dict[str, Any] = {"rule": plan.rule, "request_type": plan.request_type, "group_id": plan.group_id}
    for action in actions:
        if isinstance(action, Resolve):
            out["resolution"] = action.resolution
        elif isinstance(action, Assign):
            out["group_id"] = action.group_id or out["group_id"]
            out["agent_id"] = action.agent_id
        elif isinstance(action, SetRequestType):
            out["request_type_value"] = action.request_type
    return out


def _forwarded(ticket: Ticket, policy: Policy) -> Forwarded | None:
    """A mail forwarded by staff: the requester is staff, and someone else wrote the forwarded mail.

    The forwarder's own header blocks (a thread starting with their reply) are passed over; any other sender,
    a colleague included, wrote the request and becomes its requester.
    """
    if not policy.is_staff(ticket.requester.email):
        return None
    return parse_forwarded(ticket.description, skip={(ticket.requester.email or "").lower()})


def decide_triage(
    plan: TriagePlan, ticket: Ticket, policy: Policy, now: datetime, agents: list[AgentLoad], turn: int | None
) -> list[Action]:
    """The actions for a ticket `plan_triage` said to triage, in the order they should land."""
    classification = plan.classification
    if plan.skip or classification is None:
        return []
    rule, why = classification.rule_name, classification.why
    request_type = classification.request_type
    options = policy.desk(ticket.desk)
    actions: list[Action] = [SetRequestType(rule=rule, why=why, request_type=options.request_type_value(request_type))]
    agent: Person | None = None
    assignment_text = plan.assignment_note
    if plan.needs_agent and plan.assignment is not None:
        choice = choose_agent(plan.assignment, agents, policy, now, turn)
        agent = choice.agent
        assignment_text = f"Assigned to {agent.name if agent else 'the group'}: {choice.why}."
        actions.append(Assign(rule=rule, why=choice.why, agent_id=agent.id if agent else None, group_id=plan.group_id))
    customer_name, customer_email = ticket.requester.name, ticket.requester.email
    if plan.forwarded is not None:
        fwd = plan.forwarded
        customer_name, customer_email = fwd.sender_name or fwd.sender_email, fwd.sender_email
        actions.append(
            SetReporter(
                rule=rule,
                why=f"{ticket.requester.email} is staff and forwarded a mail from {fwd.sender_email}",
                email=fwd.sender_email,
                name=fwd.sender_name,
            )
        )
        forwarder = (ticket.requester.email or "").lower()
        cc = tuple(dict.fromkeys(e for e in (forwarder, *fwd.cc) if e and e != fwd.sender_email))
        if cc:
            actions.append(
                AddParticipants(rule=rule, why="the forwarding colleague and the forwarded mail's CC", emails=cc)
            )
    extra = _policy_participants(policy, ticket, request_type, customer_email)
    if extra:
        actions.append(AddParticipants(rule="participants", why="policy keeps them in the loop", emails=extra))
    values = {
        "customer_name": _first_name(customer_name or customer_email or "there"),
        "customer_email": customer_email,
        "ticket_id": ticket.id,
        "ticket_url": ticket.url,
        "request_type": request_type,
        "request_type_name": policy.triage.request_types.get(request_type, request_type),  # type: ignore[call-overload]
        "phone": policy.service_desk.phone,
        "hours": policy.service_desk.hours,
        # A configuration change moves on to the account manager: the reply does not promise triage's pick.
        "agent_name": agent.name if agent and not _handed_over(request_type, policy) else None,
        "rule": rule,
        "rule_why": why,
        "assignment": assignment_text,
        "reopen_days": policy.followup.reopen_days,
    }
    if plan.phone_answer:
        actions.append(_comment("phone_only", Visibility.PUBLIC, policy, values, rule, "must be handled by phone"))
        actions.append(
            Resolve(rule=rule, why="phone-only: the customer is asked to call", resolution=policy.triage.resolution)
        )
    elif request_type == "phone_only":  # logged by an agent (a call): they handle it, the customer gets no text
        why = f"phone-only request that came in by {ticket.channel}, not written by the customer"
        note = (
            f"Phone-only request that came in by {ticket.channel}: not answered with the phone instructions and not "
            "resolved (it was not written by the customer by email or web form). Handle it with the customer on the "
            "phone."
        )
        actions.append(Comment(rule=rule, why=why, body=note, visibility=Visibility.INTERNAL))
        if ticket.status is Status.NEW or plan.opened_before:
            actions.append(SetStatus(rule=rule, why="awaiting support", status=Status.OPEN))
    else:
        if policy.triage.first_response and not (request_type == "feedback" and policy.feedback.records):
            # Recorded feedback is answered by the feedback runbook, once the idea it names exists.
            actions.append(
                _comment(f"first_response.{request_type}", Visibility.PUBLIC, policy, values, rule, "first response")
            )
        follow = policy.followup
        asks = follow.enabled and policy.triage.first_response and request_type in follow.waits_on_customer
        if asks:  # triage only runs on new/open tickets (JSM's "Waiting for support" reads as open)
            why = "the first response asks the customer for information: waiting on them"
            actions.append(SetStatus(rule=rule, why=why, status=Status.PENDING))
        elif ticket.status is Status.NEW or plan.opened_before:
            why = "awaiting support after the first response"
            actions.append(SetStatus(rule=rule, why=why, status=Status.OPEN))
        if request_type == "incident" and ticket.channel == "email":
            actions.append(
                _comment("incident_call_note", Visibility.INTERNAL, policy, values, rule, "incident by email: call")
            )
    if policy.triage.triage_note:
        audit = _comment("triage_note", Visibility.INTERNAL, policy, values, rule, "triage audit note")
        actions.append(replace(audit, audit=True))
    actions.append(Tag(rule=rule, why="marks the ticket triaged (idempotency)", add=(TRIAGED_TAG,)))
    return actions


def _handed_over(request_type: str, policy: Policy) -> bool:
    return request_type == "configuration_change" and policy.config_change.enabled


def _comment(
    template: str, visibility: Visibility, policy: Policy, values: dict[str, object], rule: str, why: str
) -> Comment:
    body = render(template, policy.templates, values)
    return Comment(rule=rule, why=why, body=body, visibility=visibility, template=template)


def _policy_participants(
    policy: Policy, ticket: Ticket, request_type: str, customer_email: str | None
) -> tuple[str, ...]:
    """Everyone the `participants` section adds for this ticket (its organization, customer domain, type)."""
    organizations = policy.desk(ticket.desk).organizations
    domain = (customer_email or "").rsplit("@", 1)[-1].lower()
    out: list[str] = []
    for entry in policy.participants:
        if entry.organization and organizations.get(entry.organization, entry.organization) != ticket.organization_id:
            continue
        if entry.domains and domain not in entry.domains:
            continue
        if entry.request_type and entry.request_type != request_type:
            continue
        out.extend(e for e in entry.cc if e != (customer_email or "").lower())
    return tuple(dict.fromkeys(out))


def _first_name(name: str) -> str:
    """How a reply greets the customer: "Hans" for "Hans Müller" and "Müller, Hans", the local part of a bare
    email address, "there" when nothing is known."""
    name = name.strip()
    if "@" in name:
        return name.split("@", 1)[0] or "there"
    if "," in name:
        last, _, first = name.partition(",")
        name = first.strip() or last.strip()
    words = name.split()
    return words[0] if words else "there"
