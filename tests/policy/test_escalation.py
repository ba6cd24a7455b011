"""The escalation runbook's decision: each condition, the actions of a matching rule, and once per rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.actions import Assign, Comment, PostChat, SetPriority, Tag
from bot.domain.tickets import SlaMetric, Status, Visibility
from bot.policy import escalation
from bot.policy.runbook import Situation
from bot.policy.schema import Policy
from tests.policy.helpers import ALICE, BOB, NOW, loads, ticket

DESKS = {
    "zendesk": {"groups": {"support": "201", "escalations": "202"}, "organizations": {"acme": "401", "globex": "402"}},
    "jira": {"groups": {"support": "support", "escalations": "escalations"}, "organizations": {"acme": "1"}},
}


def policy(*rules: dict[str, Any], **section: Any) -> Policy:
    return Policy.model_validate(
        {
            "desks": DESKS,
            "chat": {"webhooks": {"alerts": "https://hooks.slack.com/services/T1/B1/secret"}},
            "escalation": {"enabled": True, "group": "escalations", "channel": "alerts", "rules": list(rules)}
            | section,
        }
    )


def situation(p: Policy, desk: str = "zendesk", **facts: Any) -> Situation:
    t = facts.pop("ticket", None) or ticket("Question", "Hello")
    return Situation(desk, t, p, NOW, facts=facts)


VIP = {"name": "VIP", "when": {"organizations": ["acme"]}, "priority": "high"}


def test_a_vip_ticket_is_raised_moved_to_the_least_loaded_escalation_agent_alerted_and_noted() -> None:
    s = situation(policy(VIP), agents=loads((BOB, 2), (ALICE, 1)))
    verdict = escalation.decide(s)
    assert verdict.outcome == "escalated by VIP"
    by_type = {type(a): a for a in verdict.actions}
    assert by_type[SetPriority].priority == "high"  # type: ignore[attr-defined]
    assert by_type[Assign].group_id == "202" and by_type[Assign].agent_id == ALICE.id  # type: ignore[attr-defined]
    alert = by_type[PostChat]
    assert alert.channel == "alerts" and alert.once == "escalation:zendesk:42:helpdesk-bot-escalated-vip"  # type: ignore[attr-defined]
    assert "VIP organization acme" in alert.text  # type: ignore[attr-defined]
    note = by_type[Comment]
    assert note.visibility is Visibility.INTERNAL  # type: ignore[attr-defined]
    assert "Escalated by rule 'VIP': VIP organization acme." in note.body  # type: ignore[attr-defined]
    assert "priority raised from none to high" in note.body  # type: ignore[attr-defined]
    assert by_type[Tag].add == ("helpdesk-bot-escalated-vip",)  # type: ignore[attr-defined]


def test_a_rule_whose_tag_is_on_the_ticket_is_not_decided_again() -> None:
    t = ticket("Question", "Hello", tags=("helpdesk-bot-escalated-vip",))
    verdict = escalation.decide(situation(policy(VIP), ticket=t))
    assert verdict.actions == () and "already escalated by: VIP" in verdict.outcome


def test_the_priority_is_only_ever_raised() -> None:
    t = ticket("Question", "Hello", priority="urgent")
    verdict = escalation.decide(situation(policy(VIP), ticket=t))
    assert not any(isinstance(a, SetPriority) for a in verdict.actions)
    jira = ticket("Question", "Hello", desk="jira", priority="Medium", organization_id="1")
    raised = escalation.decide(situation(policy(VIP), "jira", ticket=jira))
    assert [a.priority for a in raised.actions if isinstance(a, SetPriority)] == ["High"]  # Jira's own name


def test_the_assignee_stays_when_they_belong_to_the_escalation_group() -> None:
    t = ticket("Question", "Hello", assignee_id=BOB.id)
    verdict = escalation.decide(situation(policy(VIP), ticket=t, agents=loads((BOB, 9), (ALICE, 0))))
    [assign] = [a for a in verdict.actions if isinstance(a, Assign)]
    assert assign.agent_id is None and assign.group_id == "202"


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Our shop is down: OUTAGE since 9am", "OUTAGE"),
        ("Totalausfall im Lager, niemand kann buchen", "Totalausfall"),
        ("Panne générale du site", "Panne générale"),
        ("Caída del servicio en producción", "Caída del servicio"),
        ("The outages page has a typo", None),  # whole words only
        ("Ausfallzeit planen für Sonntag", None),
    ],
)
def test_outage_words_match_whole_words_in_several_languages(text: str, hit: str | None) -> None:
    rule = {"name": "outage", "when": {"outage": True}, "priority": "urgent"}
    verdict = escalation.decide(situation(policy(rule), ticket=ticket("Help", text, organization_id=None)))
    if hit is None:
        assert verdict.actions == ()
    else:
        [note] = [a for a in verdict.actions if isinstance(a, Comment)]
        assert f"outage word {hit!r}" in note.body


def test_an_outage_reported_in_a_customer_reply_counts_but_not_in_an_agents_note() -> None:
    from bot.domain.tickets import Comment as TicketComment
    from tests.policy.helpers import CATHY

    rule = {"name": "outage", "when": {"outage": True}}
    agent_note = TicketComment("1", ALICE, "Is this an outage?", Visibility.INTERNAL, NOW)
    quiet = ticket("Help", "Slow page", comments=(agent_note,))
    assert escalation.decide(situation(policy(rule), ticket=quiet)).actions == ()
    reply = TicketComment("2", CATHY, "Now it is a full outage.", Visibility.PUBLIC, NOW)
    loud = ticket("Help", "Slow page", comments=(agent_note, reply))
    assert escalation.decide(situation(policy(rule), ticket=loud)).outcome == "escalated by outage"


def test_a_repeat_customer_is_counted_only_when_the_other_conditions_hold() -> None:
    rule = {"name": "repeat", "when": {"repeat": {"tickets": 3, "days": 7}, "priorities": ["high"]}}
    p = policy(rule)
    assert escalation.needs(situation(p, ticket=ticket(priority="normal"))).repeats == ()  # no search needed
    high = ticket(priority="high")
    [repeat] = escalation.needs(situation(p, ticket=high)).repeats
    query = escalation.repeat_query(high, repeat, NOW)
    assert query.requester_id == "301" and query.created_after == NOW - timedelta(days=7) and query.statuses == ()
    assert escalation.decide(situation(p, ticket=high, repeat={"requester:7": 2})).actions == ()
    verdict = escalation.decide(situation(p, ticket=high, repeat={"requester:7": 3}))
    [note] = [a for a in verdict.actions if isinstance(a, Comment)]
    assert "repeat customer: 3 tickets from this requester in 7 days" in note.body


def test_an_organization_count_searches_by_the_organization() -> None:
    rule = {"name": "repeat-org", "when": {"repeat": {"tickets": 5, "days": 30, "by": "organization"}}}
    t = ticket(desk="jira", organization_id="1", organization_name="Acme", project="SD")
    [repeat] = escalation.needs(situation(policy(rule), "jira", ticket=t)).repeats
    query = escalation.repeat_query(t, repeat, NOW)
    assert (query.organization_id, query.organization_name, query.requester_id) == ("1", "Acme", None)
    no_org = ticket(organization_id=None)
    assert escalation.needs(situation(policy(rule), ticket=no_org)).repeats == ()


def test_sla_at_risk_from_the_desks_clocks_and_from_the_policy_target() -> None:
    rule = {"name": "sla", "when": {"sla_minutes_left": 30}, "priority": "urgent"}
    p = policy(rule)
    soon = SlaMetric("Time to first response", NOW + timedelta(minutes=20), False, True)
    later = SlaMetric("Time to first response", NOW + timedelta(minutes=45), False, True)
    paused = SlaMetric("Time to resolution", NOW + timedelta(minutes=5), False, False)
    jira = ticket(desk="jira", status=Status.OPEN)
    assert escalation.needs(situation(p, "jira", ticket=jira)).sla
    assert escalation.decide(situation(p, "jira", ticket=jira, sla=(later, paused))).actions == ()
    verdict = escalation.decide(situation(p, "jira", ticket=jira, sla=(soon,)))
    [note] = [a for a in verdict.actions if isinstance(a, Comment)]
    assert "SLA 'Time to first response' 20 min left (threshold 30 min)" in note.body
    # Zendesk: the policy's 8 business hours for a normal ticket, from its creation (Mon 09:30) → 17:30 + ...
    zd = ticket(status=Status.OPEN, priority="normal", created_at=NOW - timedelta(days=3))
    assert escalation.decide(situation(p, ticket=zd)).outcome == "escalated by sla"
    fresh = ticket(status=Status.OPEN, priority="normal")
    assert escalation.decide(situation(p, ticket=fresh)).actions == ()
    pending = ticket(status=Status.PENDING, created_at=NOW - timedelta(days=3))
    assert escalation.decide(situation(p, ticket=pending)).actions == ()  # waiting on the customer


def test_the_periodic_check_decides_only_the_sla_rules() -> None:
    sla = {"name": "sla", "when": {"sla_minutes_left": 30}}
    p = policy(VIP, sla)
    old = ticket(status=Status.OPEN, created_at=NOW - timedelta(days=3))
    assert escalation.decide_sla(situation(p, ticket=old)).outcome == "escalated by sla"
    assert escalation.decide(situation(p, ticket=old)).outcome == "escalated by VIP, sla"
    assert escalation.select(p, "zendesk", NOW) is not None
    assert escalation.select(policy(VIP), "zendesk", NOW) is None  # nothing for a sweep to watch


def test_without_a_channel_or_group_nothing_is_posted_or_moved() -> None:
    p = Policy.model_validate({"desks": DESKS, "escalation": {"enabled": True, "rules": [VIP]}})
    verdict = escalation.decide(situation(p))
    assert not any(isinstance(a, PostChat | Assign) for a in verdict.actions)
    assert any(isinstance(a, SetPriority) for a in verdict.actions)


def test_policy_problems_name_the_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at least one condition"):
        policy({"name": "x", "when": {}})
    with pytest.raises(ValidationError, match="must differ"):
        policy({"name": "VIP", "when": {"outage": True}}, {"name": "vip", "when": {"outage": True}})
