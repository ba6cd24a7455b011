"""The configuration-change decision: to whom the ticket goes, what the note says, and when nothing happens."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.domain.actions import Assign, Comment, Tag
from bot.domain.events import Actor, Event, EventKind
from bot.domain.tickets import Person, Role, Status, Visibility
from bot.policy.config_change import ASK_TAG, HANDED_OFF_TAG, customer, decide, documents_for
from bot.policy.runbook import Situation
from bot.policy.schema import ConfigChange, Document, Match, load_policy
from connectors.crm.accounts import Account
from tests.policy.helpers import NOW, SAM, ticket

POLICY = load_policy(None)
ACME = Account("001A", "Acme", "sam@example.com", "Sam Staff", "https://www.acme.test", "salesforce")
GLOBEX = Account("001G", "Globex", "gina@example.com", "Gina Growth", "http://globex.test/", "salesforce")


def situation(
    t: Any = None, policy: Any = POLICY, previous: Any = None, kind: EventKind = EventKind.TICKET_CREATED, **facts: Any
) -> Situation:
    t = t or ticket("Please enable SSO", "Can you configure SAML for us?", request_type="configuration_change")
    event = Event("e-1", t.desk, kind, t.id, Actor("101", Role.AGENT), "d-1", NOW)
    return Situation(t.desk, t, policy, NOW, event, facts, previous)


def note(actions: tuple[Any, ...]) -> str:
    notes = [a for a in actions if isinstance(a, Comment)]
    assert len(notes) == 1 and notes[0].visibility is Visibility.INTERNAL
    return str(notes[0].body)


def test_the_ticket_goes_to_the_account_owner_with_a_checklist_of_the_policys_documents() -> None:
    verdict = decide(situation(account=ACME, manager=SAM))
    assert [a.agent_id for a in verdict.actions if isinstance(a, Assign)] == [SAM.id]
    body = note(verdict.actions)
    assert "Sam Staff <sam@example.com>, owner of Salesforce account Acme (website matches acme.test)" in body
    assert "[ ] Template: Configuration change request form - https://docs.example.com/forms/config-change.pdf" in body
    assert "[ ] Spec sheet: Platform spec sheet" in body and "[ ] Incentive: Loyalty incentive programme" in body
    assert "Single sign-on setup guide" in body  # its condition (sso, saml) holds for this ticket
    assert any(isinstance(a, Tag) and HANDED_OFF_TAG in a.add for a in verdict.actions)


def test_documents_with_conditions_are_listed_only_when_they_hold() -> None:
    plain = ticket("Change our invoice address", "New address below", request_type="configuration_change")
    titles = [d.title for d in documents_for(plain, POLICY)]
    assert "Single sign-on setup guide" not in titles and "Platform spec sheet" in titles


def test_an_account_manager_without_a_desk_account_is_named_and_the_ticket_stays() -> None:
    for manager in (None, Person("302", "Gina Growth", "gina@example.com", role=Role.CUSTOMER)):
        verdict = decide(situation(account=GLOBEX, manager=manager))
        assert not [a for a in verdict.actions if isinstance(a, Assign)]
        body = note(verdict.actions)
        assert "Gina Growth <gina@example.com>, owner of Salesforce account Globex" in body
        assert "no agent account on Zendesk" in body and "stays where triage put it" in body
        assert "Documents to collect" in body


def test_nobody_known_is_said_in_the_note() -> None:
    verdict = decide(situation(account=None))
    assert not [a for a in verdict.actions if isinstance(a, Assign)]
    assert "no account manager found for cathy@acme.test, acme" in note(verdict.actions)


def test_the_policy_map_is_named_as_the_source() -> None:
    account = Account("acme.test", "Acme", "sam@example.com", source="policy")
    body = note(decide(situation(account=account, manager=SAM)).actions)
    assert "sam@example.com, account manager of email domain acme.test in crm.account_managers" in body


def test_nothing_for_other_types_a_handed_off_ticket_a_disabled_runbook_or_a_shadow_desk() -> None:
    other = ticket("Invoice", "copy", request_type="general_inquiry")
    assert decide(situation(other, account=ACME, manager=SAM)).actions == ()
    done = ticket("SSO", "x", request_type="configuration_change", tags=(HANDED_OFF_TAG,))
    assert decide(situation(done, account=ACME, manager=SAM)).outcome.startswith("already handed over")
    off = POLICY.model_copy(update={"config_change": ConfigChange(enabled=False)})
    assert decide(situation(policy=off, account=ACME, manager=SAM)).actions == ()
    desks = dict(POLICY.desks)
    desks["zendesk"] = desks["zendesk"].model_copy(update={"shadow": True})
    shadow = POLICY.model_copy(update={"desks": desks})
    assert decide(situation(policy=shadow, account=ACME, manager=SAM)).actions == ()


def test_a_replay_decides_as_the_first_run_did() -> None:
    t = ticket("SSO", "x", request_type="configuration_change")
    first = decide(situation(t, account=ACME, manager=SAM))
    done = ticket("SSO", "x", request_type="configuration_change", tags=(HANDED_OFF_TAG,), assignee_id=SAM.id)
    previous = tuple(a.describe() for a in first.actions)
    replayed = decide(situation(done, previous=previous, account=ACME, manager=SAM))
    assert replayed.actions == first.actions  # the same note: the replay recognises it and writes nothing


def test_a_ticket_already_with_the_account_manager_is_not_reassigned() -> None:
    t = ticket("SSO", "x", request_type="configuration_change", assignee_id=SAM.id)
    verdict = decide(situation(t, account=ACME, manager=SAM))
    assert verdict.outcome == "already with account manager sam@example.com"
    assert not [a for a in verdict.actions if isinstance(a, Assign)]


def test_the_desks_stored_request_type_counts_and_the_group_moves_with_the_owner() -> None:
    jsm = ticket("Enable SSO", "x", desk="jira", id="SD-4", request_type="3", organization_id="1")
    policy = POLICY.model_copy(
        update={
            "config_change": ConfigChange(group="escalations", documents=[Document(title="T", url="https://x.test/t")])
        }
    )
    verdict = decide(situation(jsm, policy=policy, account=ACME, manager=SAM))
    assign = next(a for a in verdict.actions if isinstance(a, Assign))
    assert (assign.agent_id, assign.group_id) == (SAM.id, "escalations")
    assert "[ ] Document: T - https://x.test/t" in note(verdict.actions)
    assert customer(jsm, POLICY).organization == "acme"


def test_a_document_needs_a_link() -> None:
    with pytest.raises(ValidationError):
        Document(title="T", url="docs/form.pdf")
    assert Document(title="T", url="https://x.test/a", match=Match(keywords=["sso"])).kind == "other"


def test_an_update_of_an_older_ticket_hands_nothing_over_unless_an_agent_asks() -> None:
    old = ticket("Enable SSO", "x", request_type="configuration_change", status=Status.OPEN)
    verdict = decide(situation(old, kind=EventKind.TICKET_UPDATED, account=ACME, manager=SAM))
    assert verdict.actions == () and ASK_TAG in verdict.outcome
    asked = ticket("Invoice address", "x", request_type="general_inquiry", tags=(ASK_TAG,))
    verdict = decide(situation(asked, kind=EventKind.TICKET_UPDATED, account=ACME, manager=SAM))
    assert [a.agent_id for a in verdict.actions if isinstance(a, Assign)] == [SAM.id]
