"""The configuration-change runbook: hand the ticket to the customer's account manager, with a checklist.

A new ticket whose request type is *configuration change* (triage's classification, or the one the customer
picked on the portal), or any ticket an agent tags `helpdesk-bot-handoff`, goes to the owner of the customer's
account; an older ticket is never handed over by a mere update (an upgrade does not reassign work in
progress). The gather step (`tasks/config_change.py`) asks the CRM (Salesforce, then the policy's
`crm.account_managers`) by the customer's email domain and organization name, then looks that person up
among the desk's users by email.
The decision reassigns the ticket to them and leaves one internal note: who the account manager is and why,
and a checklist of the documents `config_change.documents` lists for such a request (templates, spec sheets,
incentive links), each with its link. When the account manager has no agent account on the desk, or nobody
is known, the note says so and the ticket stays where triage put it.

Once: the note and the assignment are one plan (a retry resumes it), and the tag `helpdesk-bot-handed-off`
stops later updates and redelivered events from handing it over again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.actions import Action, Assign, Comment, Tag
from bot.domain.events import EventKind
from bot.domain.tickets import Person, Role, Ticket, Visibility
from bot.policy.classify import match_reasons
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import DOCUMENT_KINDS, Document, Policy
from connectors.crm.accounts import Account, email_domain, website_matches

REQUEST_TYPE = "configuration_change"
ASK_TAG = "helpdesk-bot-handoff"
"""Agents add it to hand a ticket to its account manager later (a new ticket needs none: its type decides)."""
HANDED_OFF_TAG = "helpdesk-bot-handed-off"
"""The bot adds it with the hand-off note, so later events of the ticket do not hand it over again."""
RULE = "config-change"


@dataclass(frozen=True)
class Customer:
    """Who to ask the CRM about: the requester's email and the ticket organization's name in the policy."""

    email: str | None
    organization: str | None


def is_config_change(ticket: Ticket, policy: Policy) -> bool:
    """Whether the ticket's request type (as the desk stores it) is a configuration change."""
    stored = policy.desk(ticket.desk).request_type_value(REQUEST_TYPE)
    return ticket.request_type in (REQUEST_TYPE, stored)


def skip_reason(s: Situation) -> str | None:
    """Why the runbook leaves this ticket alone (None: hand it over). The gather step asks this first, so
    tickets that are not configuration changes cost no CRM call."""
    if not s.policy.config_change.enabled:
        return "the configuration-change hand-off is disabled in the policy"
    if s.policy.shadow(s.desk):
        return f"desks.{s.desk} is in shadow mode: nothing handed over"
    if HANDED_OFF_TAG in s.ticket.tags and not s.replaying:
        return f"already handed over (tag {HANDED_OFF_TAG})"
    if ASK_TAG in s.ticket.tags:
        return None
    if s.event is not None and s.event.kind is not EventKind.TICKET_CREATED:
        return f"not a new ticket (agents ask for the hand-off with the tag {ASK_TAG})"
    if not is_config_change(s.ticket, s.policy):
        return "not a configuration change"
    return None


def customer(ticket: Ticket, policy: Policy) -> Customer:
    """The requester's email, and the organization's name as the policy calls it (its desk id when unnamed)."""
    names = {desk_id: name for name, desk_id in policy.desk(ticket.desk).organizations.items()}
    org = ticket.organization_id or ticket.requester.organization_id
    return Customer(ticket.requester.email, names.get(org, org) if org else None)


def documents_for(ticket: Ticket, policy: Policy) -> list[Document]:
    """The policy's documents for this ticket: those without conditions and those whose conditions hold."""
    options = policy.desk(ticket.desk)
    return [d for d in policy.config_change.documents if d.match is None or match_reasons(d.match, ticket, options)]


def checklist(documents: Sequence[Document]) -> list[str]:
    """One unchecked line per document, labelled by kind, with its link."""
    if not documents:
        return ["No documents are listed for configuration changes (config_change.documents)."]
    lines = ["Documents to collect and send with the change:"]
    lines += [f"[ ] {DOCUMENT_KINDS[d.kind]}: {d.title} - {d.url}" for d in documents]
    return lines


def _whom(account: Account, who: Customer) -> str:
    """ "Sam Staff <sam@example.com>, owner of Salesforce account Acme (website matches acme.test)"."""
    person = f"{account.owner_name} <{account.owner_email}>" if account.owner_name else str(account.owner_email)
    domain = email_domain(who.email)
    if account.source == "salesforce":
        how = f"website matches {domain}" if domain and website_matches(account.website, domain) else "by name"
        return f"{person}, owner of Salesforce account {account.name} ({how})"
    key = f"email domain {domain}" if domain and account.id == domain else f"organization {who.organization}"
    return f"{person}, account manager of {key} in crm.account_managers"


def decide(s: Situation) -> Verdict:
    skip = skip_reason(s)
    if skip is not None:
        return Verdict(skip)
    ticket, policy = s.ticket, s.policy
    who = customer(ticket, policy)
    account: Account | None = s.facts.get("account")
    manager: Person | None = s.facts.get("manager")
    lines: list[str]
    actions: list[Action] = []
    if account is None or not account.owner_email:
        asked = ", ".join(filter(None, (who.email, who.organization))) or "a customer without email or organization"
        outcome = "no account manager known: the ticket stays where it is"
        lines = [
            f"Configuration change: no account manager found for {asked} (Salesforce and crm.account_managers).",
            "The ticket stays where triage put it.",
        ]
    elif manager is None or manager.role is not Role.AGENT:
        outcome = f"account manager {account.owner_email} has no agent account on {ticket.desk}: not reassigned"
        lines = [
            f"Configuration change: the account manager is {_whom(account, who)}.",
            f"They have no agent account on {ticket.desk.title()}, so the ticket stays where triage put it: "
            f"please hand it to them by hand ({account.owner_email}).",
        ]
    else:
        group_id = _group_id(policy, ticket.desk)
        outcome = f"handed to account manager {account.owner_email}"
        lines = [f"Configuration change: handed to the account manager, {_whom(account, who)}."]
        # On a replay, an assignment to them is this runbook's own: it decides as the first run did.
        own = any(a.get("action") == "Assign" and a.get("agent_id") == manager.id for a in s.previous or ())
        if ticket.assignee_id == manager.id and not own and (group_id is None or group_id == ticket.group_id):
            outcome = f"already with account manager {account.owner_email}"
            lines = [f"Configuration change: already with the account manager, {_whom(account, who)}."]
        else:
            why = f"configuration change: account manager of {account.name}"
            actions.append(Assign(rule=RULE, why=why, agent_id=manager.id, group_id=group_id))
        if not manager.available:
            lines.append(f"Note: {manager.name or account.owner_email} is marked away on the desk.")
    lines += ["", *checklist(documents_for(ticket, policy))]
    actions.append(
        Comment(
            rule=RULE, why="hand-off note and document checklist", body="\n".join(lines), visibility=Visibility.INTERNAL
        )
    )
    actions.append(Tag(rule=RULE, why="marks the hand-off done (idempotency)", add=(HANDED_OFF_TAG,)))
    return Verdict(outcome, tuple(actions))


def _group_id(policy: Policy, desk: str) -> str | None:
    name = policy.config_change.group
    return policy.desk(desk).groups.get(name) if name else None
