"""The ping runbook's decision: cadence in business time, post vs draft, the draft's contents, one ping per slot."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.actions import Comment as CommentAction
from bot.domain.actions import Tag
from bot.domain.tickets import Comment, Person, Role, SlaMetric, Status, StatusChange, Ticket, Visibility
from bot.policy import pings
from bot.policy.mood import mood
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy
from tests.policy.helpers import ALICE, CATHY, ticket

BOT = Person("900", "helpdesk-bot", "bot@example.com", role=Role.BOT)
# US calendar, 09:00-17:00 UTC: Thursday 26 Nov 2026 is Thanksgiving, 28-29 Nov a weekend.
WED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def policy(**pings_settings: Any) -> Policy:
    settings = {"enabled": True, "open_every_hours": 16, "pending_after_days": 2, **pings_settings}
    return Policy.model_validate(
        {"calendar": {"timezone": "UTC", "hours": "09:00-17:00", "country": "US"}, "pings": settings}
    )


def comment(n: int, author: Person, body: str, at: datetime, public: bool = True) -> Comment:
    return Comment(str(n), author, body, Visibility.PUBLIC if public else Visibility.INTERNAL, at)


def open_ticket(*extra_comments: Comment, **fields: Any) -> Ticket:
    first = comment(1, CATHY, "The export fails.", WED - timedelta(hours=1))
    reply = comment(2, BOT, "Thanks, we are on it.", WED)
    values: dict[str, Any] = {
        "description": first.body,  # Zendesk lists the description as the first comment
        "status": Status.OPEN,
        "created_at": WED - timedelta(hours=1),
        "updated_at": WED,
    }
    return ticket(comments=(first, reply, *extra_comments), **{**values, **fields})


def decide(t: Ticket, now: datetime, p: Policy | None = None, **facts: Any) -> Verdict:
    return pings.decide(Situation("zendesk", t, p or policy(), now, facts=facts))


def comments_of(verdict: Verdict) -> list[CommentAction]:
    return [a for a in verdict.actions if isinstance(a, CommentAction)]


def test_an_open_ticket_is_due_after_business_hours_across_a_holiday_and_a_weekend() -> None:
    t = open_ticket()
    # Wed 15-17 (2h), Thanksgiving off, Fri 9-17 (8h), weekend off, Mon 9-15 (6h): 16 business hours.
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    waiting = decide(t, monday - timedelta(minutes=1))
    assert waiting.actions == () and waiting.due == monday
    assert waiting.outcome == "next update due Mon 30 Nov 15:00 UTC"
    due = decide(t, monday)
    assert due.outcome == "update drafted"
    assert [a.add for a in due.actions if isinstance(a, Tag)] == [("helpdesk-bot-ping-20261130t1500",)]


def test_a_pending_ticket_is_due_a_prompt_after_business_days_of_inactivity() -> None:
    asked = comment(3, ALICE, "Which browser do you use? And since when?", WED + timedelta(hours=1))
    t = open_ticket(asked, status=Status.PENDING)
    # Quiet since Wed 16:00; 2 business days: Fri, then Mon (Thursday is Thanksgiving) at 16:00.
    monday = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert decide(t, monday - timedelta(seconds=1)).due == monday
    posted = decide(t, monday, policy(mode="post"))
    assert posted.outcome == "prompt posted"
    [prompt] = comments_of(posted)
    assert prompt.visibility is Visibility.PUBLIC
    assert "cannot move forward until you" in prompt.body
    assert "Which browser do you use?" in prompt.body and "And since when?" in prompt.body


def test_a_slot_already_pinged_is_not_pinged_again_and_a_draft_starts_the_next_slot() -> None:
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    t = open_ticket(tags=(pings.slot_tag(monday),))
    again = decide(t, monday + timedelta(minutes=5))
    assert again.actions == ()
    assert again.due == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 16 business hours after the last slot


def test_a_draft_holds_the_sla_three_events_next_steps_and_the_mood_with_its_inputs() -> None:
    happy = comment(3, CATHY, "Thanks a lot, great help!", WED + timedelta(minutes=10))
    angry = comment(4, CATHY, "This is terrible, still broken. Is there a workaround?", WED + timedelta(minutes=20))
    note = comment(5, ALICE, "Looking at the logs", WED + timedelta(minutes=30), public=False)
    t = open_ticket(happy, angry, note)
    [draft] = comments_of(decide(t, datetime(2026, 11, 30, 15, 0, tzinfo=UTC)))
    body = draft.body
    assert draft.visibility is Visibility.INTERNAL
    assert "next reply (8 business hours): breached" in body  # Zendesk: the policy's target for "normal"
    events = body.split("Last three events:\n")[1].split("\n\n")[0].splitlines()
    assert len(events) == 3 and "Thanks a lot" in events[0] and "internal note" in events[2]
    assert "- Answer: “Is there a workaround?”" in body
    assert "Customer mood: negative (" in body
    scores = mood([c.body for c in (t.comments[0], happy, angry)]).inputs
    assert all(f"{s.compound:+.2f}" in body for s in scores)
    assert "Raise the priority (now not set): the customer's mood fell" in body
    assert "Prepared text:\nHello Cathy," in body


def test_the_opening_counts_as_an_event_where_no_comment_carries_it() -> None:
    reply = comment(2, BOT, "Thanks, we are on it.", WED)
    jsm = ticket(subject="Export fails", status=Status.OPEN, created_at=WED - timedelta(hours=1), comments=(reply,))
    assert pings.last_events(jsm) == [
        "Wed 25 Nov 14:00 UTC: customer opened the ticket: “Export fails”",
        "Wed 25 Nov 15:00 UTC: helpdesk-bot replied: “Thanks, we are on it.”",
    ]
    zendesk = open_ticket()  # the description is the first comment: no second opening event
    assert [e.split(": ", 1)[1] for e in pings.last_events(zendesk)] == [
        "customer replied: “The export fails.”",
        "helpdesk-bot replied: “Thanks, we are on it.”",
    ]


def test_a_jsm_draft_shows_the_desks_own_sla_clock() -> None:
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    metric = SlaMetric("Time to resolution", now + timedelta(hours=2, minutes=5), False, True)
    [draft] = comments_of(decide(open_ticket(), now, sla=(metric,)))
    assert "- Time to resolution: 2h 05m left (boundary Mon 30 Nov 17:05 UTC)" in draft.body


def test_a_reopened_ticket_gets_the_suggestions_even_when_the_mood_holds() -> None:
    reopened = StatusChange(WED, Status.OPEN, previous=Status.SOLVED, by=Role.CUSTOMER)
    [draft] = comments_of(decide(open_ticket(status_changes=(reopened,)), datetime(2026, 12, 1, 9, tzinfo=UTC)))
    assert "Add a team lead or account manager in CC: the ticket was reopened" in draft.body
    [calm] = comments_of(decide(open_ticket(), datetime(2026, 12, 1, 9, tzinfo=UTC)))
    assert "Suggestions:" not in calm.body


def test_the_mode_comes_from_the_request_type_then_the_group_then_the_default() -> None:
    p = Policy.model_validate(
        {
            "desks": {"zendesk": {"groups": {"support": "201"}}},
            "pings": {"mode": "draft", "groups": {"support": "post"}, "request_types": {"feedback": "draft"}},
        }
    )
    assert pings.mode_for(open_ticket(group_id="201"), p, "zendesk") == "post"
    assert pings.mode_for(open_ticket(group_id="201", request_type="feedback"), p, "zendesk") == "draft"
    assert pings.mode_for(open_ticket(group_id="999"), p, "zendesk") == "draft"


def test_solved_tickets_and_a_policy_without_pings_are_left_alone() -> None:
    assert decide(open_ticket(status=Status.SOLVED), WED + timedelta(days=30)).actions == ()
    assert pings.select(Policy(), "zendesk", WED) is None
    query = pings.select(policy(), "zendesk", WED)
    assert query is not None and Status.PENDING in query.statuses


def test_mood_is_a_pure_score_per_comment() -> None:
    scored = mood(["I love it, thank you!", "This is awful and I am angry."])
    assert scored.inputs[0].compound > 0.5 > -0.5 > scored.inputs[1].compound
    assert scored.falling(0.3) and mood(["fine", "fine"]).change == 0
    assert mood([]).label().startswith("unknown")


def test_scoring_the_mood_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.policy import mood as mood_module

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mood tried to open a socket")

    mood_module._analyzer.cache_clear()
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert mood(["Thank you, that helps a lot"]).inputs[0].compound > 0


@pytest.mark.parametrize(
    ("followup", "tags", "prompted"),
    [
        ({"enabled": True}, (), False),  # the ladder chases it: its strikes, no prompt beside them
        ({"enabled": True}, ("helpdesk-bot-pause",), False),  # an agent asked for quiet
        ({"enabled": True, "exempt": {"tags": ["vip"]}}, ("vip",), True),  # no ladder for it: the ping prompts
        ({"enabled": False}, (), True),
    ],
)
def test_a_pending_ticket_gets_a_prompt_only_when_no_follow_up_ladder_chases_it(
    followup: dict[str, Any], tags: tuple[str, ...], prompted: bool
) -> None:
    asked = comment(3, ALICE, "Which browser do you use?", WED + timedelta(hours=1))
    t = open_ticket(asked, status=Status.PENDING, tags=tags)
    p = Policy.model_validate({**policy().model_dump(by_alias=True, exclude_defaults=True), "followup": followup})
    verdict = decide(t, datetime(2026, 12, 7, 16, 0, tzinfo=UTC), p)
    assert bool(verdict.actions) is prompted, verdict.outcome
    if not prompted:
        assert verdict.outcome == "pending: the follow-up ladder contacts the customer (no prompt beside its strikes)"
    open_one = open_ticket(tags=tags)  # open tickets keep their SLA updates either way
    assert decide(open_one, datetime(2026, 12, 7, 16, 0, tzinfo=UTC), p).actions
