"""Assignment strategies and the full triage decision, as the actions a user would see land on a ticket."""

from __future__ import annotations

import collections
from datetime import UTC, datetime

import pytest

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
from bot.policy.schema import Assignment, Feedback, Policy, load_policy
from bot.policy.triage import TRIAGED_TAG, TriagePlan, decide_triage, plan_triage
from tests.policy.helpers import ALICE, BOB, CAROL, NOW, SAM, loads, ticket

DEFAULT = load_policy(None)
AGENTS = {
    "alice@example.com": {"languages": ["en"], "products": ["billing", "api"]},
    "bob@example.com": {
        "languages": ["de", "en"],
        "products": ["api"],
        "away": [{"from": "2026-03-09", "to": "2026-03-13"}],
    },
    "carol@example.com": {
        "languages": ["en"],
        "products": ["mobile"],
        "away": [{"from": "2026-03-02", "to": "2026-03-02"}],
    },
}
POLICY = DEFAULT.model_copy(update={"agents": Policy.model_validate({"agents": AGENTS}).agents})
SUPPORT = loads((CAROL, 0), (ALICE, 5), (BOB, 2))  # deliberately not in id order


def pick(
    assignment: Assignment, now: datetime = NOW, turn: int | None = None, agents: list[AgentLoad] = SUPPORT
) -> str | None:
    choice = choose_agent(assignment, agents, POLICY, now, turn)
    assert choice.why
    return choice.agent.id if choice.agent else None


def test_round_robin_over_1000_turns_is_fair_and_skips_the_agent_away_today() -> None:
    rr = Assignment(group="support", strategy="round_robin")
    counts = collections.Counter(pick(rr, turn=t) for t in range(1, 1001))
    assert set(counts) == {"101", "102"}  # Carol is away on 2026-03-02 (a one-day absence)
    assert max(counts.values()) - min(counts.values()) <= 1
    next_day = datetime(2026, 3, 3, 8, tzinfo=UTC)
    counts = collections.Counter(pick(rr, now=next_day, turn=t) for t in range(1, 1001))
    assert set(counts) == {"101", "102", "103"} and max(counts.values()) - min(counts.values()) <= 1
    assert [pick(rr, now=next_day, turn=t) for t in (1, 2, 3, 4)] == ["101", "102", "103", "101"]


def test_away_dates_are_inclusive() -> None:
    rr = Assignment(group="support", strategy="least_loaded")
    bob_only = loads((BOB, 0))
    assert pick(rr, datetime(2026, 3, 8, 23, 59, tzinfo=UTC), agents=bob_only) == "102"
    assert pick(rr, datetime(2026, 3, 9, 0, 0, tzinfo=UTC), agents=bob_only) is None
    assert pick(rr, datetime(2026, 3, 13, 18, tzinfo=UTC), agents=bob_only) is None
    assert pick(rr, datetime(2026, 3, 14, 0, 0, tzinfo=UTC), agents=bob_only) == "102"


def test_least_loaded_takes_fewest_open_tickets_and_breaks_ties_by_lowest_id() -> None:
    ll = Assignment(group="support", strategy="least_loaded")
    tomorrow = datetime(2026, 3, 3, tzinfo=UTC)
    assert pick(ll, tomorrow) == "103"  # Carol: 0 open
    assert pick(ll) == "102"  # Carol away today: Bob (2) before Alice (5)
    tie = loads((BOB, 1), (ALICE, 1), (CAROL, 1))
    assert pick(ll, tomorrow, agents=tie) == "101"


def test_an_agent_the_desk_marks_unavailable_is_skipped() -> None:
    ll = Assignment(group="support", strategy="least_loaded")
    out = Person(BOB.id, BOB.name, BOB.email, BOB.role, available=False)
    choice = choose_agent(ll, loads((out, 0), (ALICE, 3)), POLICY, NOW, None)
    assert choice.agent == ALICE and "Bob Agent unavailable on the desk" in choice.why


@pytest.mark.parametrize(
    ("skills", "expected"),
    [({"language": "de"}, "102"), ({"product": "billing"}, "101"), ({"language": "en", "product": "api"}, "102")],
)
def test_skills_filter_then_least_loaded(skills: dict[str, str], expected: str) -> None:
    assert pick(Assignment.model_validate({"group": "support", "strategy": "skills", "skills": skills})) == expected


def test_no_eligible_agent_leaves_the_ticket_to_the_group_and_says_why() -> None:
    mobile = Assignment.model_validate({"group": "support", "strategy": "skills", "skills": {"product": "mobile"}})
    choice = choose_agent(mobile, SUPPORT, POLICY, NOW, 1)  # only Carol has mobile, and she is away today
    assert choice.agent is None
    assert "no eligible agent in group support" in choice.why and "Carol Agent away (policy)" in choice.why


def decide(
    t: Ticket, policy: Policy = POLICY, desk: str = "zendesk", agents: list[AgentLoad] = SUPPORT, turn: int | None = 1
) -> tuple[TriagePlan, list[Action]]:
    plan = plan_triage(t, policy, desk, NOW)
    assert plan.skip is None, plan.skip
    return plan, decide_triage(plan, t, policy, NOW, agents, turn)


def test_a_new_bug_report_is_typed_assigned_answered_opened_noted_and_tagged_last() -> None:
    t = ticket("Checkout error", "Pressing Pay shows an error since this morning.", id="1234")
    plan, actions = decide(t)
    assert (plan.rule, plan.request_type, plan.group_id, plan.pool, plan.shadow) == (
        "possible-bug",
        "technical_support",
        "201",
        "support",
        False,
    )
    kinds = [type(a) for a in actions]
    assert kinds == [SetRequestType, Assign, AddParticipants, Comment, SetStatus, Comment, Tag]
    assert actions[0] == SetRequestType(rule="possible-bug", why=actions[0].why, request_type="technical_support")
    assert isinstance(actions[1], Assign) and (actions[1].agent_id, actions[1].group_id) == ("101", "201")
    assert actions[2] == AddParticipants(rule="participants", why=actions[2].why, emails=("sam@example.com",))
    reply, note = actions[3], actions[5]
    assert isinstance(reply, Comment) and reply.visibility is Visibility.PUBLIC
    assert reply.body.startswith("Hello Cathy,") and "#1234" in reply.body and "Alice Agent" in reply.body
    # The technical-support first response asks for steps to reproduce: the ticket waits on the customer.
    assert actions[4] == SetStatus(rule="possible-bug", why=actions[4].why, status=Status.PENDING)
    assert isinstance(note, Comment) and note.visibility is Visibility.INTERNAL
    assert "possible-bug" in note.body and "Alice Agent" in note.body and "round-robin" in note.body
    assert actions[-1].add == (TRIAGED_TAG,)  # type: ignore[attr-defined]
    assert all(a.rule and a.why for a in actions)


def test_with_follow_up_off_or_another_request_type_the_first_response_leaves_the_ticket_open() -> None:
    off = POLICY.model_copy(update={"followup": POLICY.followup.model_copy(update={"enabled": False})})
    _, actions = decide(ticket("Checkout error", "Pressing Pay shows an error."), policy=off)
    assert [a.status for a in actions if isinstance(a, SetStatus)] == [Status.OPEN]
    _, actions = decide(ticket("Question", "What are your opening hours?"))
    assert [a.status for a in actions if isinstance(a, SetStatus)] == [Status.OPEN]


def test_jira_gets_its_own_ids() -> None:
    t = ticket("Feature idea: dark mode", "Would be great.", desk="jira", id="SD-7", organization_id="2")
    plan, actions = decide(t, desk="jira", agents=loads((BOB, 0)))
    assert plan.group_id == "support"
    assert actions[0].request_type == "4"  # type: ignore[attr-defined]
    assert not any(isinstance(a, AddParticipants) for a in actions)  # Globex has no account manager rule


def test_a_ticket_a_human_already_assigned_is_never_reassigned() -> None:
    t = ticket("Checkout error", "broken", assignee_id="103", status=Status.OPEN)
    plan, actions = decide(t)
    assert not plan.needs_agent and plan.pool is None
    assert not any(isinstance(a, Assign) for a in actions)
    # Already open; the technical-support first response asks for details, so it now waits on the customer.
    assert [a.status for a in actions if isinstance(a, SetStatus)] == [Status.PENDING]
    note = [a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.INTERNAL][-1]
    assert "never reassigned" in note.body


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tags": ("vip", TRIAGED_TAG)}, "already triaged"),
        ({"status": Status.PENDING}, "not new"),
        ({"status": Status.SOLVED}, "not new"),
    ],
)
def test_skips(changes: dict[str, object], reason: str) -> None:
    t = ticket("Checkout error", "broken", **changes)
    plan = plan_triage(t, POLICY, "zendesk", NOW)
    assert plan.skip and reason in plan.skip
    assert decide_triage(plan, t, POLICY, NOW, SUPPORT, 1) == []


def test_disabled_triage_skips() -> None:
    off = POLICY.model_copy(update={"triage": POLICY.triage.model_copy(update={"enabled": False})})
    assert plan_triage(ticket(), off, "zendesk", NOW).skip == "triage is disabled in the policy"


FORWARD = """Hi team, Cathy called me about this too.

---------- Forwarded message ---------
From: Cathy Customer <cathy@acme.test>
Date: Mon, 2 Mar 2026 at 09:12
Subject: Export fails
To: Sam Staff <sam@example.com>
Cc: Ops <ops@acme.test>, sam@example.com

The CSV export fails with an error."""


def test_staff_forward_makes_the_customer_the_reporter_and_keeps_everyone_in_the_loop() -> None:
    t = ticket("Fwd: Export fails", FORWARD, requester=SAM, organization_id=None, channel="email")
    plan, actions = decide(t)
    assert plan.forwarded is not None
    reporter = next(a for a in actions if isinstance(a, SetReporter))
    assert (reporter.email, reporter.name) == ("cathy@acme.test", "Cathy Customer")
    cc = next(a for a in actions if isinstance(a, AddParticipants))
    assert cc.emails == ("sam@example.com", "ops@acme.test")
    reply = next(a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC)
    assert reply.body.startswith("Hello Cathy,")


def test_a_colleague_s_forwarded_mail_makes_the_colleague_the_requester_but_never_the_forwarder() -> None:
    body = "---------- Forwarded message ---------\nFrom: Bob Agent <bob@example.com>\nTo: sam@example.com\n\nHi"
    _, actions = decide(ticket("Fwd: VPN", body, requester=SAM))
    assert next(a for a in actions if isinstance(a, SetReporter)).email == "bob@example.com"
    own = body.replace("Bob Agent <bob@example.com>", "Sam Staff <sam@example.com>")
    plan, actions = decide(ticket("Fwd: my own mail", own, requester=SAM))
    assert plan.forwarded is None and not any(isinstance(a, SetReporter) for a in actions)


def test_a_customer_forwarding_their_colleague_s_mail_stays_the_requester() -> None:
    t = ticket("Fwd: question", FORWARD.replace("cathy@acme.test", "dan@acme.test"))
    _, actions = decide(t)
    assert not any(isinstance(a, SetReporter) for a in actions)


def test_participant_rules_by_customer_domain_and_request_type() -> None:
    policy = POLICY.model_copy(
        update={
            "participants": Policy.model_validate(
                {
                    "participants": [
                        {"domains": ["acme.test"], "request_type": "incident", "cc": ["dave@example.com"]},
                        {"cc": ["audit@example.com"]},
                    ]
                }
            ).participants
        }
    )
    t = ticket("Fwd: outage", FORWARD.replace("fails with an error", "is down: nobody can export"), requester=SAM)
    _, actions = decide(t, policy)
    added = [e for a in actions if isinstance(a, AddParticipants) for e in a.emails]
    assert added == ["sam@example.com", "ops@acme.test", "dave@example.com", "audit@example.com"]


def test_phone_only_is_answered_with_the_phone_number_and_resolved_without_assignment() -> None:
    t = ticket("Please unlock my account", "I am locked out.", id="77")
    plan, actions = decide(t)
    assert not plan.needs_agent and plan.pool is None
    assert not any(isinstance(a, (Assign, SetStatus)) for a in actions)
    reply = next(a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC)
    assert "+1 555 0100" in reply.body and "08:00-18:00" in reply.body and "#77" in reply.body
    assert reply.body.startswith("Hello Cathy,") and reply.template == "phone_only"
    assert Resolve(rule="phone-only", why=next(a for a in actions if isinstance(a, Resolve)).why) in actions
    assert isinstance(actions[-1], Tag)
    assert "reply to this message within 7 days; after that, please open a new request" in reply.body


@pytest.mark.parametrize("channel", ["voice", "api"])
def test_a_phone_only_request_an_agent_logged_is_assigned_not_answered_or_resolved(channel: str) -> None:
    t = ticket("Please unlock my account", "Customer called: locked out.", id="78", channel=channel)
    plan, actions = decide(t, agents=loads((ALICE, 0), (BOB, 1)))
    assert plan.request_type == "phone_only" and plan.needs_agent and not plan.phone_answer
    assert not any(isinstance(a, Resolve) for a in actions)
    assert not any(isinstance(a, Comment) and a.visibility is Visibility.PUBLIC for a in actions)
    assert any(isinstance(a, Assign) and a.agent_id for a in actions)
    note = next(a for a in actions if isinstance(a, Comment) and a.body.startswith("Phone-only request"))
    assert f"came in by {channel}" in note.body


@pytest.mark.parametrize(("channel", "notes"), [("email", 2), ("web", 1)])
def test_an_incident_by_email_asks_the_assignee_to_phone_the_customer(channel: str, notes: int) -> None:
    t = ticket("Outage: nobody can check out", "All carts fail.", channel=channel, id="9")
    plan, actions = decide(t, agents=loads((BOB, 4)))
    assert (plan.request_type, plan.group_id, plan.pool) == ("incident", "202", None)  # least loaded: no turn
    internal = [a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.INTERNAL]
    assert len(internal) == notes
    if channel == "email":
        assert internal[0].template == "incident_call_note"
        assert (
            internal[0].body.startswith("Bob Agent:") and "phone Cathy" in internal[0].body and "#9" in internal[0].body
        )


def test_policy_templates_override_the_texts() -> None:
    policy = POLICY.model_copy(
        update={
            "templates": {
                "first_response.feedback": "Danke {{ customer_name }} für #{{ ticket_id }} ({{ request_type_name }})."
            },
            "feedback": Feedback(),  # feedback recorded nowhere: triage answers it
        }
    )
    _, actions = decide(ticket("Feature idea: dark mode", "please", id="5"), policy)
    reply = next(a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC)
    assert reply.body == "Danke Cathy für #5 (Feedback)."


def test_recorded_feedback_is_answered_by_the_feedback_runbook_not_triage() -> None:
    assert POLICY.feedback.records  # the packaged policy records feedback in Aha!
    _, actions = decide(ticket("Feature idea: dark mode", "please", id="5"), POLICY)
    assert [a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC] == []
    assert any(isinstance(a, Tag) and TRIAGED_TAG in a.add for a in actions)


def test_first_names_from_display_names() -> None:
    cases = (("Müller, Hans", "Hans"), ("cathy@acme.test", "cathy"), ("Cathy", "Cathy"), ("  ", "there"), ("X,", "X"))
    for name, first in cases:
        requester = Person("301", name, "cathy@acme.test")
        _, actions = decide(ticket("Invoice", "copy please", requester=requester))
        reply = next(a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC)
        assert reply.body.startswith(f"Hello {first},")


def test_shadow_per_desk_and_per_rule() -> None:
    desks = dict(POLICY.desks)
    desks["jira"] = desks["jira"].model_copy(update={"shadow": True})
    policy = POLICY.model_copy(update={"desks": desks})
    assert plan_triage(ticket("Invoice", "x", desk="jira"), policy, "jira", NOW).shadow
    assert not plan_triage(ticket("Invoice", "x"), policy, "zendesk", NOW).shadow
    rules = [r.model_copy(update={"shadow": r.name == "feedback"}) for r in POLICY.triage.rules]
    policy = POLICY.model_copy(update={"triage": POLICY.triage.model_copy(update={"rules": rules})})
    assert plan_triage(ticket("Feature idea", "x"), policy, "zendesk", NOW).shadow
    assert not plan_triage(ticket("Checkout error", "x"), policy, "zendesk", NOW).shadow


def test_a_configuration_change_reply_does_not_name_the_agent_it_will_not_stay_with() -> None:
    t = ticket("Please enable SSO", "Configure SAML for us")
    _, actions = decide(t, POLICY, agents=loads((ALICE, 0)))
    [reply] = [a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]
    assert "Our team will confirm the change" in reply.body and "Alice" not in reply.body
    assert any(isinstance(a, Assign) and a.agent_id == ALICE.id for a in actions)  # triage still assigns first
