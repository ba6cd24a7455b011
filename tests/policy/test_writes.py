"""The decided actions become the desk writes a user sees (through the executor's pure compile step)."""

from __future__ import annotations

from bot.domain.tickets import Status, Visibility
from bot.policy.schema import load_policy
from bot.policy.triage import TRIAGED_TAG, decide_triage, plan_triage
from tasks.executor import People, compile_writes
from tests.policy.helpers import ALICE, BOB, NOW, SAM, loads, ticket

POLICY = load_policy(None)
FORWARD = """Please help her.

-----Original Message-----
From: Cathy Customer [mailto:cathy@acme.test]
Sent: Monday, March 2, 2026 9:12 AM
To: Sam Staff <sam@example.com>
Cc: ops@acme.test
Subject: Export fails

The CSV export fails with an error."""


def test_a_forwarded_bug_report_lands_as_one_zendesk_update_and_an_internal_note() -> None:
    t = ticket("Fwd: Export fails", FORWARD, requester=SAM, organization_id=None, channel="email", id="88")
    plan = plan_triage(t, POLICY, "zendesk", NOW)
    actions = decide_triage(plan, t, POLICY, NOW, loads((ALICE, 3), (BOB, 1)), 2)
    people = People({"cathy@acme.test": "301", "sam@example.com": "105", "ops@acme.test": "303"})
    head, note = compile_writes(t, actions, people, atomic=True)
    assert (head.assignee_id, head.group_id, head.request_type) == ("102", "201", "technical_support")
    assert head.requester_id == "301"
    assert set(head.add_participant_ids) == {"105", "303"}
    assert head.status is Status.PENDING and head.add_tags == (TRIAGED_TAG,)  # waits on the customer's details
    assert head.comment is not None and head.comment.visibility is Visibility.PUBLIC
    assert head.comment.body.startswith("Hello Cathy,") and "#88" in head.comment.body
    assert note.comment is not None and note.comment.visibility is Visibility.INTERNAL
    assert "rule possible-bug" in note.comment.body and "Bob Agent" in note.comment.body


def test_a_phone_only_request_on_jira_is_answered_resolved_and_tagged_last() -> None:
    t = ticket("Please unlock my account", "Locked out again.", desk="jira", id="SD-9", organization_id="2")
    plan = plan_triage(t, POLICY, "jira", NOW)
    writes = compile_writes(t, decide_triage(plan, t, POLICY, NOW, [], None), People(), atomic=False)
    head, tag = writes[0], writes[-1]
    assert head.request_type == "5" and head.status is Status.SOLVED and head.resolution == "Done"
    assert head.assignee_id is None and head.comment is not None and "+1 555 0100" in head.comment.body
    assert tag.add_tags == (TRIAGED_TAG,) and tag.comment is None


def test_a_ticket_already_in_the_decided_state_needs_no_field_write() -> None:
    t = ticket("Checkout error", "broken", assignee_id="101", group_id="201", request_type="technical_support")
    t = t.__class__(**{**t.__dict__, "status": Status.OPEN, "participant_ids": ("105",)})
    # Open is the decided state when the first response does not leave the ticket waiting on the customer.
    policy = POLICY.model_copy(update={"followup": POLICY.followup.model_copy(update={"waits_on_customer": []})})
    plan = plan_triage(t, policy, "zendesk", NOW)
    head = compile_writes(
        t, decide_triage(plan, t, policy, NOW, [], None), People({"sam@example.com": "105"}), atomic=True
    )[0]
    assert (head.assignee_id, head.group_id, head.request_type, head.status, head.add_participant_ids) == (
        None,
        None,
        None,
        None,
        (),
    )
