"""Customer-facing sweep messages spread over the customer's business day (`sweeps.spread`): each ticket's slot is
stable and the slots cover the window evenly; a step due at night, or a weekend's or a holiday's backlog, goes out
at each ticket's slot of the next business day in the customer's zone, on both decision paths and for posted
pings. Drafts for agents are not held back."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.actions import Comment, Tag
from bot.domain.tickets import Ticket, Visibility
from bot.policy import followup, pings, spread
from bot.policy.calendar import calendar_for
from bot.policy.runbook import Situation, Verdict
from bot.policy.schema import Policy, load_policy
from tests.policy.helpers import CATHY
from tests.policy.test_followup import BOT, comment, waiting
from tests.policy.test_pings import open_ticket

BERLIN = ZoneInfo("Europe/Berlin")
SHIPPED = load_policy(None)  # spread on, window 10:00-16:00; the demo's acme (desk id 401) gets its own calendar


def policy(**sweeps: Any) -> Policy:
    """The shipped policy, with Acme's customers in Berlin under German (Bavarian) holidays."""
    data = SHIPPED.model_dump(by_alias=True, exclude_defaults=False)
    data["calendar"]["organizations"] = {"acme": {"timezone": "Europe/Berlin", "country": "DE", "subdivision": "BY"}}
    data["sweeps"] = {**data["sweeps"], **sweeps}
    return Policy.model_validate(data)


POLICY = policy()
CAL = calendar_for(POLICY, "zendesk", "401")


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def slot_of(ticket_id: str, day: datetime, p: Policy = POLICY) -> datetime:
    """The ticket's slot on the (working) day of `day`: the first moment it may be written to from midnight."""
    return spread.sends_at(p, "zendesk", ticket_id, CAL, day.replace(hour=0, minute=0, second=0, microsecond=0))


def decide(t: Ticket, now: datetime, p: Policy = POLICY) -> Verdict:
    return followup.decide_ladder(Situation("zendesk", t, p, now))


def public(verdict: Verdict) -> list[Comment]:
    return [a for a in verdict.actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]


def test_a_tickets_slot_is_the_same_every_day_and_differs_between_tickets() -> None:
    monday, tuesday = slot_of("1234", berlin(2, 0)), slot_of("1234", berlin(3, 0))
    assert tuesday - monday == timedelta(days=1)
    assert slot_of("1234", berlin(2, 0)) == monday  # no state, no salt: every process computes the same slot
    assert spread.share("zendesk", "1234") != spread.share("jira", "1234")  # the desk is part of the key
    assert len({slot_of(str(n), berlin(2, 0)) for n in range(20)}) == 20


def test_a_thousand_tickets_land_over_the_whole_window_with_no_hour_above_its_fair_share() -> None:
    slots = [CAL.local(slot_of(str(n), berlin(2, 0))) for n in range(1000)]
    assert all(time(10) <= s.time() < time(16) and s.date() == berlin(2, 0).date() for s in slots)
    by_hour = Counter(s.hour for s in slots)
    assert sorted(by_hour) == [10, 11, 12, 13, 14, 15]
    fair = 1000 / 6
    assert max(by_hour.values()) < 1.2 * fair and min(by_hour.values()) > 0.8 * fair
    assert min(slots).time() < time(10, 10) and max(slots).time() > time(15, 50)


def test_the_window_is_clipped_to_the_customers_business_hours() -> None:
    short = policy(spread_window="07:00-11:00")  # Berlin works 09:00-17:00: slots between 09:00 and 11:00
    times = {CAL.local(slot_of(str(n), berlin(2, 0), short)).time() for n in range(300)}
    assert min(times) >= time(9) and max(times) < time(11)
    night = policy(spread_window="20:00-23:00")  # no overlap at all: the whole business day
    times = {CAL.local(slot_of(str(n), berlin(2, 0), night)).time() for n in range(300)}
    assert min(times) < time(10) and max(times) >= time(16)


def test_a_step_due_at_midnight_is_sent_at_the_tickets_slot_in_the_customers_zone() -> None:
    # Strike 1 fell due on Monday 10:00 Berlin; the bot was down until its sweep at 00:00 on Thursday.
    t = waiting(organization_id="401", id="7001")
    due = decide(t, berlin(5, 0))
    slot = slot_of("7001", berlin(5, 0))
    assert due.actions == () and due.due == slot
    assert CAL.local(slot).date() == berlin(5, 0).date() and time(10) <= CAL.local(slot).time() < time(16)
    assert f"{CAL.local(slot):%H:%M} CET" in due.outcome
    assert decide(t, slot - timedelta(minutes=1)).actions == ()
    sent = decide(t, slot)
    assert sent.outcome == "strike 1/3 sent" and len(public(sent)) == 1


def test_with_the_spread_off_the_same_step_goes_out_at_the_opening() -> None:
    t = waiting(organization_id="401", id="7001")
    assert decide(t, berlin(5, 0), policy(spread=False)).due == berlin(5, 9)


def weekend_backlog(count: int) -> list[Ticket]:
    """Tickets an agent set pending on Saturday, asking the customer: strike 1 of each falls due on Monday."""
    saturday = berlin(7, 11)
    out = []
    for n in range(count):
        t = waiting(organization_id="401", id=str(9000 + n))
        asked = replace(t.comments[1], created_at=saturday)
        out.append(replace(t, comments=(t.comments[0], asked), updated_at=saturday))
    return out


def sweep_monday(tickets: list[Ticket], p: Policy) -> dict[str, datetime]:
    """When each ticket's strike goes out, with a sweep every 5 minutes from Monday 00:00 (Berlin) for a day; a
    ticket whose verdict named a later time is not decided again before it."""
    sent_at: dict[str, datetime] = {}
    next_due: dict[str, datetime] = {}
    for minute in range(0, 24 * 60, 5):
        now = berlin(9, 0) + timedelta(minutes=minute)
        for t in tickets:
            if t.id in sent_at or next_due.get(t.id, now) > now:
                continue
            verdict = decide(t, now, p)
            if public(verdict):
                sent_at[t.id] = now
            elif verdict.due is not None:
                next_due[t.id] = verdict.due
    return sent_at


def test_a_backlog_after_a_weekend_is_spread_over_monday_not_sent_at_the_opening() -> None:
    tickets = weekend_backlog(300)
    sent_at = sweep_monday(tickets, POLICY)
    assert len(sent_at) == 300  # every one on Monday
    local = sorted(CAL.local(s) for s in sent_at.values())
    assert local[0].time() >= time(10) and local[-1].time() <= time(16)  # sweeps run every 5 minutes
    by_hour = Counter(s.hour for s in local)
    assert all(by_hour[h] for h in range(10, 16)) and max(by_hour.values()) < 300 / 4  # not one rush hour
    for t in tickets:  # none before its slot, each at the first sweep from it
        assert timedelta(0) <= sent_at[t.id] - slot_of(t.id, berlin(9, 0)) < timedelta(minutes=5)


def test_without_the_spread_the_weekend_backlog_all_goes_at_the_strikes_hour() -> None:
    sent_at = sweep_monday(weekend_backlog(30), policy(spread=False))
    assert set(sent_at.values()) == {berlin(9, 10)}


def test_holidays_are_respected_the_backlog_goes_at_the_slots_of_the_next_working_day() -> None:
    # Strike 2 was due Thursday 2 April 10:00 (Berlin); the next sweep runs on Good Friday. Good Friday, the
    # weekend and Easter Monday are off: each strike goes at its ticket's slot on Tuesday 7 April.
    for n in range(50):
        t = waiting(organization_id="401", id=str(500 + n))
        t = replace(
            t,
            tags=("helpdesk-bot-strike-1",),
            followup_state=followup.marker("strike-1", berlin(1, 10, month=4), after=t.comments[0].id),
            updated_at=berlin(1, 10, 2, month=4),
            comments=(),
        )
        verdict = followup.decide_ladder_from_search(Situation("zendesk", t, POLICY, berlin(3, 11, month=4)))
        assert verdict is not None and verdict.actions == ()
        assert verdict.due == slot_of(t.id, berlin(7, 0, month=4))
        assert CAL.local(verdict.due).date() == berlin(7, 0, month=4).date()
        at_slot = followup.decide_ladder_from_search(Situation("zendesk", t, POLICY, verdict.due))
        assert at_slot is not None and at_slot.outcome == "strike 2/3 sent"


def test_a_step_found_after_closing_waits_for_the_next_days_slot() -> None:
    t = waiting(organization_id="401", id="7001")
    late = decide(t, berlin(4, 17, 30))  # due since Monday and past Wednesday's slot, but the day's hours are over
    assert late.actions == () and late.due == slot_of("7001", berlin(5, 0))


def test_a_step_that_falls_due_after_its_slot_goes_when_due() -> None:
    t = waiting(organization_id="401", id="7001")
    slot = slot_of("7001", berlin(2, 0))
    assert CAL.local(slot).time() > time(10)  # this ticket's slot is after the 10:00 strikes
    assert decide(t, berlin(2, 10)).due == slot
    early = policy(spread_window="09:00-09:30")  # every slot before the strikes' hour: sent when due
    assert public(decide(t, berlin(2, 10), early))


def posted_ping_ticket(**fields: Any) -> Ticket:
    """An open feedback ticket of Acme (Berlin): pings post their update (the shipped mode for feedback)."""
    return open_ticket(organization_id="401", request_type="feedback", id="8123", **fields)


def ping(t: Ticket, now: datetime) -> Verdict:
    return pings.decide(Situation("zendesk", t, POLICY, now))  # shipped: drafts, posted for feedback requests


def test_a_posted_ping_due_over_the_weekend_goes_at_the_tickets_slot_on_monday() -> None:
    t = posted_ping_ticket()  # support last wrote Wed 25 Nov 15:00 UTC: 8 business hours later is Thu 15:00
    due = pings.due(t, POLICY, CAL)
    assert due is not None
    saturday = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert saturday > due.at
    waiting_ = ping(t, saturday)
    monday_slot = slot_of("8123", datetime(2026, 11, 30, tzinfo=BERLIN))
    assert waiting_.actions == () and waiting_.due == monday_slot
    posted = ping(t, monday_slot)
    assert posted.outcome == "update posted"
    assert [a.add for a in posted.actions if isinstance(a, Tag)] == [(due.tag,)]  # the slot's tag: once per due


def test_a_draft_for_the_assignee_is_not_held_back() -> None:
    t = open_ticket(organization_id="401", id="8123")
    assert ping(t, datetime(2026, 11, 28, 0, 0, tzinfo=UTC)).outcome == "update drafted"


def test_an_event_driven_reply_is_not_held_back() -> None:
    t = waiting(organization_id="401", id="7001")
    answered = replace(t, comments=(*t.comments, replace(t.comments[0], id="x1", created_at=berlin(4, 23))))
    verdict = followup.decide_reply(Situation("zendesk", answered, POLICY, berlin(5, 0)))
    assert verdict.outcome == "customer replied: strikes cleared" and verdict.due is None


@settings(max_examples=200, deadline=None)
@given(
    t=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    ticket_id=st.integers(1, 10**9).map(str),
)
def test_a_message_goes_in_working_time_at_or_after_its_slot_and_never_before_it_is_due(
    t: datetime, ticket_id: str
) -> None:
    moment = spread.sends_at(POLICY, "zendesk", ticket_id, CAL, t)
    assert moment >= t and CAL.is_working_time(moment)
    assert moment >= slot_of(ticket_id, CAL.local(moment))
    assert moment - t < timedelta(days=8)
    if moment > t:  # it waited: nothing earlier was allowed
        assert moment == slot_of(ticket_id, CAL.local(moment))


def test_the_steps_note_tells_the_agent_when_the_next_step_reaches_the_customer() -> None:
    t = waiting(organization_id="401", id="7001")
    slot = slot_of("7001", berlin(5, 0))
    sent = decide(t, slot)
    [record] = [a for a in sent.actions if isinstance(a, followup.RecordStep)]
    following = slot_of("7001", berlin(6, 0))  # Friday: strike 2 falls due at 10:00, goes at the ticket's slot
    assert (
        f"strike 2 due Fri 6 Mar 2026 10:00 CET (goes out at {CAL.local(following):%H:%M}, the ticket's slot)"
        in (record.notes[0])
    )
    plain = decide(t, slot, policy(spread=False))
    [record] = [a for a in plain.actions if isinstance(a, followup.RecordStep)]
    assert "goes out" not in record.notes[0]


def test_the_reactivation_note_says_when_strike_one_reaches_the_customer() -> None:

    t = waiting(organization_id="401", id="7001")
    ooo = comment(CATHY, "I am out of the office until Friday.", berlin(2, 8))
    hold = followup.marker("hold", berlin(2, 8), until=berlin(6, 10), reply=ooo.id)
    note = comment(BOT, f"First Customer Follow-up\n{hold}", berlin(2, 8), False)
    t = replace(t, comments=(*t.comments, ooo, note), status=followup.Status.ON_HOLD, tags=(followup.ON_HOLD_TAG,))
    back = decide(t, berlin(6, 10))
    assert back.outcome == "hold ended: waiting on the customer again"
    [record] = [a for a in back.actions if isinstance(a, followup.RecordStep)]
    slot = CAL.local(slot_of("7001", berlin(6, 0)))
    assert slot > berlin(6, 10)  # Friday's slot of this ticket is after the reactivation
    assert f"strike 1 due Fri 6 Mar 2026 10:00 CET (goes out at {slot:%H:%M}, the ticket's slot)" in record.notes[0]
