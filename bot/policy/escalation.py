"""The escalation runbook: tickets that need immediate attention are raised, moved and announced, once.

Each rule of `escalation.rules` names conditions (all must hold): the ticket's priority, a VIP organization,
a repeat customer (N tickets in M days from the same requester or organization, counted with the desk's own
search), an SLA clock about to breach (JSM's own clocks; on Zendesk the policy's `pings.sla_hours` target in
the business calendar), outage words (whole words, any case, several languages) and the channel. When a rule
holds, the bot raises the priority to the rule's level (never lowers it), moves the ticket to the escalation
group (its least-loaded available agent), alerts the chat channel with the ticket's link, and writes an
internal note saying which rule matched and why.

Once per ticket and rule: the ticket gets the tag/label `helpdesk-bot-escalated-<rule>` with the writes, and a
rule whose tag is on the ticket is not decided again, whichever event, replay or sweep comes next; the chat
alert also carries a `once` key the executor records, so even a run that lost the race to the tag never posts
it twice. The runbook runs on new tickets, updates and comments of every channel, and every 15 minutes over
open tickets for the rules with an SLA condition (a clock runs down without any event).

The decision is pure: the counts, SLA clocks and the escalation group's agents are gathered by
`tasks/escalation.py`, and only for the rules whose other conditions already hold (`needs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from bot.domain.actions import Action, Assign, Comment, PostChat, SetPriority, Tag
from bot.domain.tickets import AgentLoad, Role, SlaMetric, Status, Ticket, TicketQuery, Visibility
from bot.policy.assign import choose_agent
from bot.policy.calendar import calendar_for
from bot.policy.pings import sla_clocks
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import PRIORITIES, Assignment, EscalationRule, Policy, RepeatCustomer

TAG_PREFIX = "helpdesk-bot-escalated-"
OPEN = (Status.NEW, Status.OPEN)
SWEEP_EVERY = timedelta(minutes=15)


def rule_tag(rule: EscalationRule) -> str:
    """The tag/label that records `rule` fired on a ticket (lower-case words joined by dashes, as both desks
    accept)."""
    return TAG_PREFIX + re.sub(r"[^a-z0-9]+", "-", rule.name.lower()).strip("-")


def repeat_key(repeat: RepeatCustomer) -> str:
    """Where a repeat count sits in the gathered facts (`facts["repeat"][key]`)."""
    return f"{repeat.by}:{repeat.days}"


@dataclass(frozen=True)
class Needs:
    """The I/O a decision needs: SLA clocks from the desk (JSM) and the repeat counts to search for."""

    sla: bool = False
    repeats: tuple[RepeatCustomer, ...] = ()


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    """Words or phrases as whole words, any case, in any script ("Ausfall" but not "Ausfallzeit")."""
    alternatives = "|".join(re.escape(w.strip()) for w in sorted(words, key=len, reverse=True) if w.strip())
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def found_word(words: Sequence[str], texts: Iterable[str]) -> str | None:
    """The first of `words` found in `texts`, as the customer wrote it."""
    if not words:
        return None
    pattern = _words(tuple(words))
    return next((m.group(0) for text in texts if (m := pattern.search(text))), None)


def customer_texts(ticket: Ticket) -> list[str]:
    """What the customer said: subject, description and their public replies (not the bot's or agents' words,
    which may quote an outage the customer never reported)."""
    replies = [c.body for c in ticket.comments if c.public and c.author.role is Role.CUSTOMER]
    return [ticket.subject, ticket.description, *replies]


def pending_rules(s: Situation, *, sla_only: bool = False) -> list[EscalationRule]:
    """The rules not yet fired on this ticket (no tag); with `sla_only`, only those with an SLA condition."""
    section = s.policy.escalation
    if not section.enabled:
        return []
    rules = [r for r in section.rules if rule_tag(r) not in s.ticket.tags]
    return [r for r in rules if r.when.sla_minutes_left is not None] if sla_only else rules


def _cheap_reasons(rule: EscalationRule, s: Situation) -> list[str] | None:
    """The reasons of the conditions decided from the ticket alone, or None when one of them fails."""
    when, ticket, options = rule.when, s.ticket, s.policy.desk(s.desk)
    reasons: list[str] = []
    if when.priorities:
        level = options.priority_level(ticket.priority)
        wanted = {PRIORITIES.index(p) for p in when.priorities}
        if level not in wanted:
            return None
        reasons.append(f"priority {ticket.priority}")
    if when.organizations:
        ids = {options.organizations.get(name, name): name for name in when.organizations}
        if ticket.organization_id not in ids:
            return None
        reasons.append(f"VIP organization {ids[ticket.organization_id]}")
    if when.channels:
        if ticket.channel not in when.channels:
            return None
        reasons.append(f"came in by {ticket.channel}")
    texts = customer_texts(ticket)
    if when.outage:
        word = found_word(s.policy.escalation.outage_words, texts)
        if word is None:
            return None
        reasons.append(f"outage word {word!r}")
    if when.words:
        word = found_word(when.words, texts)
        if word is None:
            return None
        reasons.append(f"mentions {word!r}")
    return reasons


def needs(s: Situation, *, sla_only: bool = False) -> Needs:
    """What to look up for the pending rules whose ticket-only conditions hold (nothing for the others, so a
    ticket no rule can match costs no search)."""
    sla = False
    repeats: dict[str, RepeatCustomer] = {}
    for rule in pending_rules(s, sla_only=sla_only):
        if _cheap_reasons(rule, s) is None:
            continue
        if rule.when.sla_minutes_left is not None and s.ticket.status in OPEN:
            sla = True
        repeat = rule.when.repeat
        if repeat is not None and (repeat.by == "requester" or s.ticket.organization_id):
            repeats[repeat_key(repeat)] = repeat
    return Needs(sla, tuple(repeats.values()))


def repeat_query(ticket: Ticket, repeat: RepeatCustomer, now: datetime) -> TicketQuery:
    """The desk query counting the tickets of `ticket`'s requester (or organization) created in the window."""
    since = now - timedelta(days=repeat.days)
    if repeat.by == "organization":
        return TicketQuery(
            statuses=(),
            organization_id=ticket.organization_id,
            organization_name=ticket.organization_name,
            created_after=since,
            project=ticket.project,
        )
    return TicketQuery(statuses=(), requester_id=ticket.requester.id, created_after=since, project=ticket.project)


def _sla_reason(minutes: float, s: Situation) -> str | None:
    """Why an SLA clock is at risk (the first running one within `minutes` of its boundary), else None."""
    if s.ticket.status not in OPEN:
        return None
    calendar = calendar_for(s.policy, s.desk, s.ticket.organization_id)
    clocks: Sequence[SlaMetric] = sla_clocks(s, calendar)
    for clock in clocks:
        if clock.running and clock.breach_at is not None:
            left = clock.breach_at - s.now
            if left <= timedelta(minutes=minutes):
                state = f"{_minutes(left)} left" if left > timedelta(0) else f"breached {_minutes(-left)} ago"
                return f"SLA {clock.name!r} {state} (threshold {minutes:g} min)"
    return None


def reasons(rule: EscalationRule, s: Situation) -> list[str] | None:
    """Why `rule` holds for the ticket (one reason per condition), or None when any condition fails."""
    found = _cheap_reasons(rule, s)
    if found is None:
        return None
    when = rule.when
    if when.repeat is not None:
        counts: Mapping[str, int] = s.facts.get("repeat") or {}
        count = counts.get(repeat_key(when.repeat))
        if count is None or count < when.repeat.tickets:
            return None
        who = "requester" if when.repeat.by == "requester" else "organization"
        found.append(f"repeat customer: {count} tickets from this {who} in {when.repeat.days} days")
    if when.sla_minutes_left is not None:
        at_risk = _sla_reason(when.sla_minutes_left, s)
        if at_risk is None:
            return None
        found.append(at_risk)
    return found


def matching(s: Situation, *, sla_only: bool = False) -> list[tuple[EscalationRule, list[str]]]:
    out = []
    for rule in pending_rules(s, sla_only=sla_only):
        why = reasons(rule, s)
        if why is not None:
            out.append((rule, why))
    return out


def escalation_group(s: Situation) -> str | None:
    """The desk's id of the escalation group, when one of the matching rules moves the ticket."""
    group = s.policy.escalation.group
    if group is None:
        return None
    return s.policy.desk(s.desk).groups.get(group)


def needs_agents(s: Situation, *, sla_only: bool = False) -> str | None:
    """The escalation group whose agents the decision needs (a matching rule moves the ticket), else None."""
    if any(rule.move for rule, _ in matching(s, sla_only=sla_only)):
        return escalation_group(s)
    return None


def select(policy: Policy, desk: str, now: datetime) -> TicketQuery | None:
    """Open tickets, when some enabled rule watches an SLA clock (the only condition time alone changes)."""
    section = policy.escalation
    if not section.enabled or not any(r.when.sla_minutes_left is not None for r in section.rules):
        return None
    return TicketQuery(statuses=OPEN)


def decide(s: Situation) -> Verdict:
    """On a ticket's events: every rule not yet fired."""
    return _decide(s, sla_only=False)


def decide_sla(s: Situation) -> Verdict:
    """The periodic check: the rules with an SLA condition only (the others wait for the ticket's events)."""
    return _decide(s, sla_only=True)


def _decide(s: Situation, *, sla_only: bool) -> Verdict:
    section = s.policy.escalation
    if not section.enabled:
        return Verdict("escalation is off")
    matched = matching(s, sla_only=sla_only)
    if not matched:
        fired = [r.name for r in section.rules if rule_tag(r) in s.ticket.tags]
        return Verdict(f"no rule holds (already escalated by: {', '.join(fired)})" if fired else "no rule holds")
    options = s.policy.desk(s.desk)
    actions: list[Action] = []
    done: list[str] = []
    names = ", ".join(rule.name for rule, _ in matched)
    level = options.priority_level(s.ticket.priority)
    targets = [(PRIORITIES.index(rule.priority), rule) for rule, _ in matched if rule.priority]
    if targets and max(targets, key=lambda t: t[0])[0] > level:
        index, rule = max(targets, key=lambda t: t[0])
        value = options.priorities[PRIORITIES[index]]
        actions.append(SetPriority(rule=rule.name, why=f"raised by escalation rule {rule.name}", priority=value))
        done.append(f"priority raised from {s.ticket.priority or 'none'} to {value}")
    movers = [rule for rule, _ in matched if rule.move]
    group_id = escalation_group(s)
    if movers and group_id is not None:
        move, text = _move(s, group_id, movers[0])
        actions += move
        done.append(text)
    channel = section.channel
    alerts = [(rule, why) for rule, why in matched if rule.alert and channel]
    for rule, why in alerts:
        actions.append(
            PostChat(
                rule=rule.name,
                why="escalation alert",
                channel=channel or "",
                text=_alert_text(s.ticket, rule, why),
                thread_key=f"{s.desk}-{s.ticket.id}",
                once=f"escalation:{s.desk}:{s.ticket.id}:{rule_tag(rule)}",
            )
        )
    if alerts:
        done.append(f"alert posted to chat channel {channel!r}")
    for rule, why in matched:
        note = f"Escalated by rule {rule.name!r}: {'; '.join(why)}."
        if done:
            note += "\n" + "\n".join(f"- {d}" for d in done)
        actions.append(Comment(rule=rule.name, why="escalation note", body=note, visibility=Visibility.INTERNAL))
    tags = tuple(rule_tag(rule) for rule, _ in matched)
    actions.append(Tag(rule=names, why="escalated once per ticket and rule", add=tags))
    return Verdict(f"escalated by {names}", tuple(actions))


def _move(s: Situation, group_id: str, rule: EscalationRule) -> tuple[list[Action], str]:
    """Assign the ticket to the escalation group: its current assignee when they belong to it, else the
    least-loaded available agent of the group (the gathered `agents`), else the group alone."""
    group = s.policy.escalation.group or ""
    agents: list[AgentLoad] = list(s.facts.get("agents") or [])
    members = {a.agent.id for a in agents}
    if s.ticket.assignee_id in members:
        why = "the assignee is in the escalation group already"
        return [Assign(rule=rule.name, why=why, group_id=group_id)], f"moved to {group} (assignee kept)"
    choice = choose_agent(Assignment(group=group, strategy="least_loaded"), agents, s.policy, s.now, None)
    agent = choice.agent
    assign = Assign(rule=rule.name, why=choice.why, agent_id=agent.id if agent else None, group_id=group_id)
    return [assign], f"moved to {group}, assigned to {agent.name if agent else 'the group'} ({choice.why})"


def _alert_text(ticket: Ticket, rule: EscalationRule, why: Sequence[str]) -> str:
    link = ticket.url or f"{ticket.desk} ticket {ticket.id}"
    return (
        f":rotating_light: Escalation ({rule.name}): {ticket.desk} #{ticket.id} “{ticket.subject}”\n"
        f"Why: {'; '.join(why)}\n{link}"
    )


def _minutes(d: timedelta) -> str:
    minutes = round(d.total_seconds() / 60)  # to the nearest minute: desks' clocks drop the milliseconds
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes} min"
