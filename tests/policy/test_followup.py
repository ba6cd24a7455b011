"""The follow-up ladder as pure decisions: a Mon … Thu timeline, business days, replies restarting the count,
holds, exemptions, pause/stop and the quick rule. Each verdict is applied to the snapshot the way the desk would
(comments by the bot at the decision's instant, tags, status, the follow-up field), so the next decision reads its
own steps back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import count, pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.actions import Comment, RecordStep, Resolve, SetStatus, Tag
from bot.domain.tickets import Comment as TicketComment
from bot.domain.tickets import Person, Role, Status, Ticket, Visibility
from bot.policy import followup
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy, load_policy
from tests.policy.helpers import ALICE, CATHY, ticket

BOT = Person("1", "Helpdesk Bot", "bot@example.com", role=Role.BOT)
DEFAULT = load_policy(None)
FRIDAY = datetime(2026, 2, 27, 15, 0, tzinfo=UTC)
_ids = count(1000)


def policy(**followup_settings: Any) -> Policy:
    data = DEFAULT.model_dump(by_alias=True, exclude_defaults=False)
    data["followup"] = {**data["followup"], **followup_settings}
    return Policy.model_validate(data)


def comment(author: Person, body: str, at: datetime, public: bool = True) -> TicketComment:
    visibility = Visibility.PUBLIC if public else Visibility.INTERNAL
    return TicketComment(str(next(_ids)), author, body, visibility, at)


def waiting(**extra: Any) -> Ticket:
    """A Zendesk ticket the agent answered on Friday afternoon, asking the customer for details."""
    base = ticket(
        "Export fails", "The CSV export fails.", status=Status.PENDING, created_at=FRIDAY - timedelta(hours=2)
    )
    comments = (
        comment(CATHY, "The CSV export fails.", FRIDAY - timedelta(hours=2)),
        comment(ALICE, "Which browser do you use?", FRIDAY),
    )
    return replace(base, comments=comments, updated_at=FRIDAY, **extra)


def apply(t: Ticket, verdict: Verdict, at: datetime) -> Ticket:
    """The snapshot after the desk carried out the verdict's actions (as the bot, at `at`)."""
    comments, tags, status, state = list(t.comments), list(t.tags), t.status, t.followup_state
    for action in verdict.actions:
        if isinstance(action, RecordStep):
            state = action.value
        elif isinstance(action, Comment):
            comments.append(comment(BOT, action.body, at, action.visibility is Visibility.PUBLIC))
        elif isinstance(action, Tag):
            tags = [x for x in tags if x not in action.remove] + [x for x in action.add if x not in tags]
        elif isinstance(action, Resolve):
            status = Status.SOLVED
        elif isinstance(action, SetStatus):
            status = action.status
    return replace(t, comments=tuple(comments), tags=tuple(tags), status=status, updated_at=at, followup_state=state)


def decide(t: Ticket, now: datetime, p: Policy = DEFAULT) -> Verdict:
    return followup.decide_ladder(Situation("zendesk", t, p, now))


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def public_bodies(t: Ticket) -> list[str]:
    return [c.body for c in t.comments if c.public and c.author.role is Role.BOT]


def test_three_strikes_on_consecutive_business_days_then_resolved_on_day_four() -> None:
    t = waiting()
    assert decide(t, at(2, 9, 59)).due == at(2)  # Monday before 10:00: strike 1 is due at 10:00
    timeline = []
    for day, outcome in ((2, "strike 1/3 sent"), (3, "strike 2/3 sent"), (4, "strike 3/3 sent")):
        verdict = decide(t, at(day))
        assert verdict.outcome == outcome
        t = apply(t, verdict, at(day))
        later = decide(t, at(day, 16))
        assert later.actions == () and later.due == at(day + 1)  # nothing more that day
        timeline.append(sorted(x for x in t.tags if x.startswith("helpdesk-bot-strike")))
    assert timeline[-1] == ["helpdesk-bot-strike-1", "helpdesk-bot-strike-2", "helpdesk-bot-strike-3"]
    assert not [c for c in t.comments if not c.public]  # each step one update: its notes ride in the field
    assert t.followup_state is not None and t.followup_state.startswith("Follow-up strike 3/3 sent (email); resolve")
    assert followup.field_step(t) == followup.Step("strike-3", at(4), after=t.comments[0].id, greet="Cathy")
    strike_3 = public_bodies(t)[-1]
    assert strike_3.startswith("Good day Cathy. This is Alice Agent from the Service Desk.")  # the assignee
    assert "ticket number 42 for the issue you are currently experiencing with Export fails" in strike_3

    final = decide(t, at(5))
    assert final.outcome == "resolved: User not responded"
    resolve = next(a for a in final.actions if isinstance(a, Resolve))
    assert resolve.resolution == "User not responded"
    t = apply(t, final, at(5))
    assert t.status is Status.SOLVED and followup.CLOSURE_TAG in t.tags
    assert len(public_bodies(t)) == 4 and "reply within 7 days" in public_bodies(t)[-1]


def test_with_step_notes_as_comments_each_step_leaves_its_notes_in_the_thread() -> None:
    p = policy(step_notes="comment")
    t = waiting()
    for day in (2, 3, 4):
        t = apply(t, decide(t, at(day), p), at(day))
    notes = [c.body for c in t.comments if not c.public]
    assert len(notes) == 4  # three step notes and strike 2's call task
    assert "strike 2 due Tue 3 Mar 2026 10:00 UTC; resolve Thu 5 Mar" in notes[0]
    assert any(n.startswith("Task for") and "voicemail" in n and f"ticket number {t.id}" in n for n in notes)
    assert followup.field_step(t) == followup.Step("strike-3", at(4), after=t.comments[0].id, greet="Cathy")
    assert decide(t, at(5), p).outcome == "resolved: User not responded"


def test_the_field_step_no_longer_counts_once_the_customer_wrote_after_it() -> None:
    t = waiting()
    for day in (2, 3):
        t = apply(t, decide(t, at(day)), at(day))
    assert followup.standing(t, DEFAULT, "zendesk").strikes == 2
    reply = comment(CATHY, "Firefox.", at(3, 11))
    agent = comment(ALICE, "Thanks, and which version?", at(3, 12))
    t = replace(t, comments=(*t.comments, reply, agent))  # the field still says strike 2
    st = followup.standing(t, DEFAULT, "zendesk")
    assert (st.strikes, st.next_action, st.next_at) == (0, "strike-1", at(4))


def test_a_public_holiday_moves_the_next_strike_to_the_next_business_day() -> None:
    closed = DEFAULT.calendar.model_copy(update={"closed": [date(2026, 3, 3)]})
    p = DEFAULT.model_copy(update={"calendar": closed})
    w = waiting()
    t = apply(w, decide(w, at(2), p), at(2))
    assert decide(t, at(3, 12), p).actions == ()
    assert decide(t, at(3, 12), p).due == at(4)


def test_a_customer_reply_after_strike_two_restarts_the_count() -> None:
    t = waiting()
    for day in (2, 3):
        t = apply(t, decide(t, at(day)), at(day))
    t = replace(t, comments=(*t.comments, comment(CATHY, "I use Firefox 128.", at(3, 14))), status=Status.OPEN)
    assert followup.standing(t, DEFAULT, "zendesk").waiting_on == "support"
    assert decide(t, at(4)).actions == ()
    # The agent answers and waits again: the ladder starts over at strike 1, one business day later.
    t = replace(t, comments=(*t.comments, comment(ALICE, "Thanks, one more question?", at(3, 15))))
    t = replace(t, status=Status.PENDING)
    assert followup.standing(t, DEFAULT, "zendesk").strikes == 0
    verdict = decide(t, at(4))
    assert verdict.outcome == "strike 1/3 sent"
    tag = next(a for a in verdict.actions if isinstance(a, Tag))
    assert set(tag.remove) == {"helpdesk-bot-strike-2"} and tag.add == ("helpdesk-bot-strike-1",)


def test_resolve_needs_every_strike_documented_as_a_public_comment() -> None:
    t = waiting()
    for day in (2, 3, 4):
        t = apply(t, decide(t, at(day)), at(day))
    first_strike = next(c for c in t.comments if c.public and c.author.role is Role.BOT)
    without = replace(t, comments=tuple(c for c in t.comments if c is not first_strike))
    verdict = decide(without, at(5))
    assert verdict.actions == () and "2 of 3 strikes" in verdict.outcome
    assert decide(t, at(5)).outcome == "resolved: User not responded"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"tags": ("helpdesk-bot-pause",)}, "paused"),
        ({"tags": ("helpdesk-bot-stop",)}, "stopped"),
        ({"tags": ("vip",)}, "exempt (tag vip)"),
        ({"priority": "urgent"}, "exempt (priority urgent)"),
        ({"organization_id": "402"}, "exempt (organization globex)"),
        ({"request_type": "incident"}, "exempt (request type incident)"),
    ],
)
def test_exempt_paused_and_stopped_tickets_get_no_follow_up(extra: dict[str, Any], why: str) -> None:
    exempt = {"tags": ["vip"], "priorities": ["Urgent"], "organizations": ["globex"], "request_types": ["incident"]}
    p = policy(exempt=exempt)
    verdict = decide(waiting(**extra), at(9), p)
    assert verdict.actions == () and why in verdict.outcome
    assert decide(waiting(), at(9), p).outcome == "strike 1/3 sent"


def test_the_quick_ladder_resolves_after_one_business_day_with_a_note_asking_again() -> None:
    p = policy(
        ladders=[{"name": "quick-config", "match": {"request_types": ["configuration_change"]}, "kind": "quick"}]
    )
    t = waiting(request_type="configuration_change")
    assert decide(t, at(2, 14, 59), p).due == at(2, 15)
    verdict = decide(t, at(2, 15), p)
    assert verdict.outcome == "resolved: User not responded"
    body = next(a.body for a in verdict.actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC)
    assert "we still need the information we asked for" in body and "within 7 days" in body
    assert decide(waiting(request_type="general_inquiry"), at(2, 15), p).outcome == "strike 1/3 sent"  # default


def test_a_hold_ends_on_its_reactivation_date_and_strikes_restart() -> None:
    t = waiting()
    ooo = comment(CATHY, "I am out of the office until 9 March.", at(2, 8))
    note = comment(
        BOT,
        "First Customer Follow-up\n" + followup.marker("hold", at(2, 8), until=at(10), reply=ooo.id),
        at(2, 8),
        False,
    )
    t = replace(t, comments=(*t.comments, ooo, note), status=Status.ON_HOLD, tags=(followup.ON_HOLD_TAG,))
    st_ = followup.standing(t, DEFAULT, "zendesk")
    assert (st_.waiting_on, st_.next_action, st_.on_hold_until) == ("customer", "reactivate", at(10))
    assert decide(t, at(9)).actions == ()
    back = decide(t, at(10))
    assert back.outcome == "hold ended: waiting on the customer again"
    t = apply(t, back, at(10))
    assert t.status is Status.PENDING and followup.ON_HOLD_TAG not in t.tags
    assert decide(t, at(10, 11)).outcome == "strike 1/3 sent"


def test_jira_closes_a_resolved_request_after_the_reopen_window_only() -> None:
    t = apply(waiting(), Verdict("x", (Resolve(resolution="User not responded"),)), at(5))
    t = replace(t, comments=(*t.comments, comment(BOT, followup.marker("resolved", at(5)), at(5), False)))
    situation = Situation("jira", t, DEFAULT, at(11, 23))
    assert followup.decide_close(situation).due == at(12)
    closing = followup.decide_close(replace(situation, now=at(12)))
    assert [a.status for a in closing.actions if isinstance(a, SetStatus)] == [Status.CLOSED]
    assert followup.decide_close(Situation("zendesk", t, DEFAULT, at(20))).actions == ()  # Zendesk closes itself


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)))
def test_every_strike_goes_out_in_working_time_one_business_day_apart(start: datetime) -> None:
    p = DEFAULT.model_copy(update={"calendar": DEFAULT.calendar.model_copy(update={"country": "DE"})})
    from bot.policy.calendar import calendar_for

    cal = calendar_for(p, "zendesk")
    t = replace(waiting(), comments=(comment(ALICE, "Which browser?", start),), updated_at=start)
    sent: list[datetime] = []
    for _ in range(4):
        due = decide(t, start, p).due or start
        verdict = decide(t, due, p)
        assert verdict.actions, verdict.outcome
        assert cal.is_working_time(due)
        t = apply(t, verdict, due)
        sent.append(due)
    days = [cal.business_time_between(a, b) for a, b in pairwise(sent)]
    assert all(d == cal.day_length for d in days)  # consecutive business days, same hour
    assert t.status is Status.SOLVED


def reply_decision(t: Ticket, now: datetime, p: Policy = DEFAULT, desk: str = "zendesk") -> Verdict:
    return followup.decide_reply(Situation(desk, t, p, now))


def with_reply(t: Ticket, body: str, when_: datetime, status: Status = Status.OPEN) -> Ticket:
    return replace(t, comments=(*t.comments, comment(CATHY, body, when_)), status=status)


def test_a_plain_reply_clears_the_strikes_and_hands_the_ticket_back_once() -> None:
    t = waiting()
    for day in (2, 3):
        t = apply(t, decide(t, at(day)), at(day))
    t = with_reply(t, "I use Firefox 128 on Windows 11.", at(3, 14), Status.PENDING)
    verdict = reply_decision(t, at(3, 14))
    assert verdict.outcome == "customer replied: strikes cleared"
    tag = next(a for a in verdict.actions if isinstance(a, Tag))
    assert set(tag.remove) == {"helpdesk-bot-strike-1", "helpdesk-bot-strike-2"}
    assert [a.status for a in verdict.actions if isinstance(a, SetStatus)] == [Status.OPEN]
    t = apply(t, verdict, at(3, 14))
    assert reply_decision(t, at(3, 15)).outcome == "customer reply already handled"
    assert followup.standing(t, DEFAULT, "zendesk").waiting_on == "support"


def test_an_out_of_office_reply_with_a_return_date_before_holidays_holds_until_the_next_business_day_after() -> None:
    cal = DEFAULT.calendar.model_copy(update={"country": "DE", "closed": [date(2026, 12, 24)]})
    p = DEFAULT.model_copy(update={"calendar": cal})
    asked = datetime(2026, 12, 14, 11, tzinfo=UTC)
    t = replace(waiting(), comments=(comment(ALICE, "Which browser do you use?", asked),), updated_at=asked)
    ooo = "Automatic reply: I am out of the office until 23 December 2026 with limited access to email."
    t = with_reply(t, ooo, asked + timedelta(minutes=2))
    verdict = reply_decision(t, asked + timedelta(minutes=3), p)
    # 24 Dec closed, 25/26 public holidays, then the weekend: reactivated Monday 28 December at 10:00.
    assert verdict.outcome == "out of office: on hold until Mon 28 Dec 2026 10:00 UTC"
    note = next(a.body for a in verdict.actions if isinstance(a, Comment))
    assert note.startswith("First Customer Follow-up") and "Which browser do you use?" in note
    t = apply(t, verdict, asked + timedelta(minutes=3))
    assert t.status is Status.ON_HOLD and followup.ON_HOLD_TAG in t.tags
    st_ = followup.standing(t, p, "zendesk")
    assert (st_.waiting_on, st_.on_hold_until) == ("customer", datetime(2026, 12, 28, 10, tzinfo=UTC))
    assert decide(t, datetime(2026, 12, 23, 10, tzinfo=UTC), p).actions == ()
    t = apply(t, decide(t, datetime(2026, 12, 28, 10, tzinfo=UTC), p), datetime(2026, 12, 28, 10, tzinfo=UTC))
    assert decide(t, datetime(2026, 12, 28, 10, 5, tzinfo=UTC), p).outcome == "strike 1/3 sent"


def test_an_out_of_office_reply_without_a_date_holds_one_business_day_after_the_contact() -> None:
    t = with_reply(waiting(), "Ich bin derzeit nicht im Büro und habe keinen Zugriff auf meine E-Mails.", at(6, 16))
    verdict = reply_decision(t, at(6, 16))  # Friday afternoon: reactivated Monday at 10:00
    assert verdict.outcome == "out of office: on hold until Mon 9 Mar 2026 10:00 UTC"


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("Thanks, that fixed it! You can close this.", "confirmed by the customer: resolved (Done)"),
        ("Danke, es funktioniert jetzt.", "confirmed by the customer: resolved (Done)"),
        ("It is still not working, same error.", "customer replied: strikes cleared"),
        ("Did that fix it on your side?", "customer replied: strikes cleared"),
    ],
)
def test_a_confirmation_resolves_and_anything_less_does_not(body: str, outcome: str) -> None:
    w = waiting()
    t = apply(w, decide(w, at(2)), at(2))
    verdict = reply_decision(with_reply(t, body, at(2, 12)), at(2, 12))
    assert verdict.outcome == outcome
    assert any(isinstance(a, Resolve) for a in verdict.actions) is outcome.startswith("confirmed")


def test_a_jira_request_reopens_on_a_reply_within_the_window_and_not_after() -> None:
    t = replace(waiting(desk="jira", id="SD-4"), status=Status.SOLVED, tags=(followup.CLOSURE_TAG,))
    t = replace(t, comments=(*t.comments, comment(BOT, followup.marker("resolved", at(5)), at(5), False)))
    inside = reply_decision(with_reply(t, "Sorry, I was away: Chrome.", at(9), Status.SOLVED), at(9), desk="jira")
    assert [a.status for a in inside.actions if isinstance(a, SetStatus)] == [Status.OPEN]
    assert followup.CLOSURE_TAG in next(a for a in inside.actions if isinstance(a, Tag)).remove
    late = reply_decision(with_reply(t, "Chrome.", at(13), Status.SOLVED), at(13), desk="jira")
    assert late.actions == () and "new request" in late.outcome
