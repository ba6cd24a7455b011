"""The business calendar: named cases a support lead would check by hand, then properties over any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policy.calendar import BusinessCalendar, calendar_for
from bot.policy.schema import Calendar, Policy

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DEFAULT = BusinessCalendar.from_settings(Calendar())
GERMANY = BusinessCalendar.from_settings(
    Calendar(timezone="Europe/Berlin", country="DE", subdivision="BY", closed=[date(2026, 12, 24), date(2026, 12, 31)])
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


# --- named cases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (utc(2026, 3, 6, 16), 2, utc(2026, 3, 9, 10)),  # Friday 16:00 + 2h = Monday 10:00
        (utc(2026, 3, 6, 16), 1, utc(2026, 3, 9, 9)),  # used up at closing: the next opening
        (utc(2026, 3, 4, 10), 3, utc(2026, 3, 4, 13)),  # within one day
        (utc(2026, 3, 4, 20), 1, utc(2026, 3, 5, 10)),  # evening: counts from the next opening
        (utc(2026, 3, 7, 12), 0, utc(2026, 3, 9, 9)),  # nothing to add on a Saturday: the next opening
        (utc(2026, 3, 2, 9), 40, utc(2026, 3, 9, 9)),  # a whole working week
        (utc(2026, 3, 2, 9), timedelta(minutes=90), utc(2026, 3, 2, 10, 30)),
    ],
)
def test_business_hours_on_the_default_calendar(start: datetime, hours: float, expected: datetime) -> None:
    assert DEFAULT.add_business_hours(start, hours) == expected


def test_results_are_utc_instants() -> None:
    # In the repeated autumn hour a zoned datetime (fold=1) is neither equal to, nor before or after, the
    # same instant in UTC; UTC results keep comparisons with `now` sound.
    result = GERMANY.add_business_hours(berlin(2026, 10, 23, 16), 2)
    assert result.tzinfo is UTC and result == berlin(2026, 10, 26, 10)
    assert GERMANY.local(result) == berlin(2026, 10, 26, 10) and GERMANY.local(result).tzinfo == BERLIN


def test_default_calendar_is_monday_to_friday_nine_to_five_utc_without_holidays() -> None:
    assert DEFAULT.zone == ZoneInfo("UTC")
    assert [DEFAULT.is_working_day(date(2026, 3, 2) + timedelta(days=i)) for i in range(7)] == [True] * 5 + [False] * 2
    assert DEFAULT.is_working_day(date(2026, 12, 25))  # no holidays unless a country is set
    assert DEFAULT.is_working_time(utc(2026, 3, 2, 9)) and not DEFAULT.is_working_time(utc(2026, 3, 2, 17))
    assert not DEFAULT.is_working_time(utc(2026, 3, 2, 8, 59, 59))


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (utc(2026, 3, 6, 16), 1, utc(2026, 3, 9, 16)),  # Friday → Monday, same time
        (utc(2026, 3, 2, 15), 3, utc(2026, 3, 5, 15)),
        (utc(2026, 3, 7, 11), 1, utc(2026, 3, 10, 9)),  # Saturday counts from Monday's opening
        (utc(2026, 3, 4, 20), 1, utc(2026, 3, 6, 9)),  # Wednesday evening: all of Thursday must pass
        (utc(2026, 3, 4, 10), 0, utc(2026, 3, 4, 10)),
    ],
)
def test_business_days_keep_the_time_of_day(start: datetime, days: int, expected: datetime) -> None:
    assert DEFAULT.add_business_days(start, days) == expected


def test_christmas_and_new_year_in_bavaria() -> None:
    # Thu 24 Dec closed (company), Fri 25 + Sat 26 holidays/weekend, Mon 28 working.
    assert GERMANY.day_off(date(2026, 12, 25)) == "Christmas Day"
    assert GERMANY.day_off(date(2026, 12, 24)) == "closed"
    assert GERMANY.day_off(date(2026, 12, 27)) == "weekend"
    assert GERMANY.next_working_moment(berlin(2026, 12, 23, 17, 30)) == berlin(2026, 12, 28, 9)
    assert GERMANY.add_business_days(berlin(2026, 12, 23, 11), 1) == berlin(2026, 12, 28, 11)
    # 31 Dec closed, 1 Jan holiday, 2-3 Jan weekend, 6 Jan Epiphany (Bavaria only): Mon 4 Jan, then Thu 7 Jan.
    assert GERMANY.business_day_at(berlin(2026, 12, 30, 15), 1, time(10)) == berlin(2027, 1, 4, 10)
    assert GERMANY.business_day_at(berlin(2027, 1, 4, 15), 2, time(10)) == berlin(2027, 1, 7, 10)
    assert GERMANY.day_off(date(2027, 1, 6)) == "Epiphany"


def test_subdivision_holidays_apply_only_there() -> None:
    berlin_state = BusinessCalendar.from_settings(Calendar(timezone="Europe/Berlin", country="DE", subdivision="BE"))
    assert berlin_state.is_working_day(date(2027, 1, 6))  # Epiphany is no holiday in Berlin
    assert not berlin_state.is_working_day(date(2027, 3, 8))  # International Women's Day is one there


def test_across_the_spring_dst_change_in_berlin() -> None:
    # Clocks go forward on Sunday 29 March 2026: Friday 16:00 CET + 2 business hours = Monday 10:00 CEST.
    friday = berlin(2026, 3, 27, 16)
    assert friday.utcoffset() == timedelta(hours=1)
    monday = GERMANY.add_business_hours(friday, 2)
    assert monday == berlin(2026, 3, 30, 10) and monday.tzinfo is UTC
    local = GERMANY.local(monday)
    assert (local.hour, local.minute, local.utcoffset()) == (10, 0, timedelta(hours=2))
    assert GERMANY.add_business_days(friday, 1) == berlin(2026, 3, 30, 16)
    assert GERMANY.business_time_between(friday, monday) == timedelta(hours=2)


def test_across_the_autumn_dst_change_in_new_york() -> None:
    ny = BusinessCalendar.from_settings(Calendar(timezone="America/New_York", country="US"))
    friday = datetime(2026, 10, 30, 15, tzinfo=NEW_YORK)  # clocks go back Sunday 1 November
    result = ny.business_day_at(friday, 1, time(10))
    assert result == datetime(2026, 11, 2, 10, tzinfo=NEW_YORK) and ny.local(result).utcoffset() == timedelta(hours=-5)
    assert ny.business_time_between(friday, result) == timedelta(hours=3)
    assert ny.day_off(date(2026, 11, 26)) == "Thanksgiving Day"


def test_working_time_is_real_time_on_the_days_the_clocks_change() -> None:
    """Sunday 29 March 2026 has 23 hours in Berlin and Sunday 25 October 25: business time is elapsed time."""
    always = BusinessCalendar.from_settings(
        Calendar(
            timezone="Europe/Berlin", hours="00:00-24:00", workdays=["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        )
    )
    assert always.business_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(hours=23)
    assert always.business_time_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == timedelta(hours=25)
    assert always.add_business_hours(berlin(2026, 3, 28, 12), 24) == berlin(2026, 3, 29, 13)
    assert always.add_business_days(berlin(2026, 3, 28, 12), 1) == berlin(2026, 3, 29, 12)  # same wall time
    second_two = utc(2026, 10, 25, 1)  # 02:00 for the second time that night
    assert always.add_business_days(second_two, 0) == second_two
    assert always.add_business_days(second_two, 1) == berlin(2026, 10, 26, 2)
    night = BusinessCalendar.from_settings(Calendar(timezone="Europe/Berlin", hours="01:00-04:00", workdays=["sun"]))
    assert night.business_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(hours=2)
    assert night.business_time_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == timedelta(hours=4)
    skipped = BusinessCalendar.from_settings(Calendar(timezone="Europe/Berlin", hours="02:00-03:00", workdays=["sun"]))
    assert skipped.day_off(date(2026, 3, 29)) == "no working hours (the clocks skip them)"
    assert skipped.next_working_moment(berlin(2026, 3, 28, 12)) == berlin(2026, 4, 5, 2)


@pytest.mark.parametrize(
    ("start", "n", "at", "expected"),
    [
        (utc(2026, 3, 2, 15), 1, time(10), utc(2026, 3, 3, 10)),  # Monday → strike 1 Tuesday 10:00
        (utc(2026, 3, 2, 15), 3, time(10), utc(2026, 3, 5, 10)),
        (utc(2026, 3, 5, 15), 2, time(10), utc(2026, 3, 9, 10)),  # Thursday + 2 = Monday
        (utc(2026, 3, 7, 15), 1, time(10), utc(2026, 3, 9, 10)),  # from Saturday: Monday is the first
        (utc(2026, 3, 2, 8), 0, time(10), utc(2026, 3, 2, 10)),  # n = 0: the same day
        (utc(2026, 3, 7, 8), 0, time(10), utc(2026, 3, 9, 10)),  # n = 0 on a weekend: the next working day
        (utc(2026, 3, 2, 15), 1, time(20), utc(2026, 3, 3, 9)),  # after closing: that day's opening
        (utc(2026, 3, 2, 15), 1, time(6), utc(2026, 3, 3, 9)),  # before opening: that day's opening
    ],
)
def test_nth_business_day_at_a_time(start: datetime, n: int, at: time, expected: datetime) -> None:
    assert DEFAULT.business_day_at(start, n, at) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (utc(2026, 3, 6, 16), utc(2026, 3, 9, 10), timedelta(hours=2)),
        (utc(2026, 3, 7, 0), utc(2026, 3, 8, 23), timedelta(0)),  # a weekend holds no working time
        (utc(2026, 3, 2, 0), utc(2026, 3, 9, 0), timedelta(hours=40)),
        (utc(2026, 3, 9, 10), utc(2026, 3, 6, 16), timedelta(hours=-2)),
        (utc(2026, 3, 2, 12), utc(2026, 3, 2, 12), timedelta(0)),
    ],
)
def test_business_time_between(a: datetime, b: datetime, expected: timedelta) -> None:
    assert DEFAULT.business_time_between(a, b) == expected


def test_closed_dates_and_custom_workdays_and_hours() -> None:
    shop = BusinessCalendar.from_settings(
        Calendar(workdays=["tue", "wed", "thu", "fri", "sat"], hours="10:00-18:30", closed=[date(2026, 3, 4)])
    )
    assert shop.next_working_moment(utc(2026, 3, 2, 12)) == utc(2026, 3, 3, 10)  # Monday is off
    assert shop.add_business_hours(utc(2026, 3, 3, 18), 1) == utc(2026, 3, 5, 10, 30)  # Wednesday closed
    assert shop.is_working_time(utc(2026, 3, 7, 18, 29))  # Saturday, before 18:30
    assert shop.day_length == timedelta(hours=8, minutes=30)


def test_round_the_clock_hours_reach_midnight() -> None:
    always = BusinessCalendar.from_settings(Calendar(hours="00:00-24:00", workdays=["mon", "tue"]))
    assert always.add_business_hours(utc(2026, 3, 2, 23), 2) == utc(2026, 3, 3, 1)
    assert always.add_business_hours(utc(2026, 3, 3, 23), 1) == utc(2026, 3, 9, 0)


def test_naive_datetimes_and_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.next_working_moment(datetime(2026, 3, 2, 10))  # naive on purpose
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add_business_hours(utc(2026, 3, 2, 10), -1)
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add_business_days(utc(2026, 3, 2, 10), -1)


def test_a_calendar_with_no_working_day_fails_loudly() -> None:
    closed = [date(2026, 3, 2) + timedelta(days=i) for i in range(5000)]
    never = BusinessCalendar.from_settings(Calendar(closed=closed))
    with pytest.raises(ValueError, match="no working day"):
        never.next_working_moment(utc(2026, 3, 2, 10))


def test_organization_calendars_by_name_or_desk_id() -> None:
    policy = Policy.model_validate(
        {
            "desks": {"zendesk": {"organizations": {"acme": "401", "globex": "402"}}},
            "calendar": {
                "timezone": "Europe/Berlin",
                "country": "DE",
                "subdivision": "BY",
                "organizations": {
                    "acme": {"timezone": "America/New_York", "country": "US"},
                    "402": {"hours": "08:00-12:00"},
                },
            },
        }
    )
    acme = calendar_for(policy, "zendesk", "401")
    assert acme.zone == NEW_YORK and acme.day_off(date(2026, 7, 3)) == "Independence Day (observed)"
    assert acme.is_working_day(date(2027, 1, 6))  # Bavaria's subdivision is dropped with the new country
    globex = calendar_for(policy, "zendesk", "402")
    assert globex.zone == BERLIN and globex.day_length == timedelta(hours=4)
    assert not globex.is_working_day(date(2027, 1, 6))  # inherits Bavaria
    main = calendar_for(policy, "zendesk", "999")
    assert main.zone == BERLIN and main.day_length == timedelta(hours=8)
    assert calendar_for(policy, "zendesk", None).zone == BERLIN
    assert calendar_for(policy, "jira", "401").zone == BERLIN  # ids are per desk


# --- properties over any instant -----------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo"]
HOURS = ["09:00-17:00", "08:30-12:00", "00:00-24:00", "01:00-04:00", "02:30-03:30", "13:00-23:59"]

calendars = st.builds(
    lambda zone, hours, days, country, closed: BusinessCalendar.from_settings(
        Calendar(
            timezone=zone,
            hours=hours,
            workdays=sorted(days, key="montuewedthufrisatsun".index),
            country=country,
            closed=closed,
        )
    ),
    st.sampled_from(ZONES),
    st.sampled_from(HOURS),
    st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1),
    st.sampled_from([None, "DE", "US", "FR", "ES"]),
    st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20),
)
CLOCK_CHANGES = [  # Berlin, New York and Sydney in 2026, as UTC instants
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 3, 8, 7),
    utc(2026, 11, 1, 6),
    utc(2026, 4, 4, 16),
    utc(2026, 10, 3, 16),
]
instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 6, 30), timezones=st.just(UTC)),
    st.builds(
        lambda edge, minutes: edge + timedelta(minutes=minutes),
        st.sampled_from(CLOCK_CHANGES),
        st.integers(-3000, 3000),
    ),
)
amounts = st.timedeltas(timedelta(0), timedelta(hours=200))


@settings(max_examples=150, deadline=None)
@given(calendars, instants, amounts)
def test_business_hours_land_in_working_time_and_add_up(cal: BusinessCalendar, t: datetime, amount: timedelta) -> None:
    result = cal.add_business_hours(t, amount)
    assert cal.is_working_time(result)
    assert result >= t
    assert cal.business_time_between(t, result) == amount


@settings(max_examples=150, deadline=None)
@given(calendars, instants, amounts, amounts)
def test_business_hours_are_monotonic(cal: BusinessCalendar, t: datetime, a: timedelta, b: timedelta) -> None:
    small, large = sorted((a, b))
    assert cal.add_business_hours(t, small) <= cal.add_business_hours(t, large)
    later = t + (b - a if b > a else a - b)
    assert cal.add_business_hours(t, small) <= cal.add_business_hours(later, small)


@settings(max_examples=150, deadline=None)
@given(calendars, instants)
def test_next_working_moment_is_the_first_working_instant(cal: BusinessCalendar, t: datetime) -> None:
    moment = cal.next_working_moment(t)
    assert cal.is_working_time(moment) and moment >= t
    assert cal.business_time_between(t, moment) == timedelta(0)
    assert cal.next_working_moment(moment) == moment
    assert (moment == t) == cal.is_working_time(t)


def clocks_change(cal: BusinessCalendar, day: date) -> bool:
    first, last = (datetime.combine(day, time(h), tzinfo=cal.zone).utcoffset() for h in (0, 23))
    return first != last


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 30), st.integers(0, 30))
def test_business_days_are_monotonic_and_keep_the_local_time(
    cal: BusinessCalendar, t: datetime, m: int, n: int
) -> None:
    start = cal.next_working_moment(t)
    a, b = cal.add_business_days(t, min(m, n)), cal.add_business_days(t, max(m, n))
    assert cal.is_working_time(a) and cal.is_working_time(b) and start <= a <= b
    if m != n:
        assert cal.local(a).date() < cal.local(b).date()
    for result in (cal.local(a), cal.local(b)):
        if not clocks_change(cal, result.date()) and not clocks_change(cal, cal.local(start).date()):
            assert result.time() == cal.local(start).time()


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(1, 10), st.times())
def test_nth_business_day_at_is_working_time_on_consecutive_days(
    cal: BusinessCalendar, t: datetime, n: int, at: time
) -> None:
    result = cal.business_day_at(t, n, at)
    day = cal.local(t).date()
    assert cal.is_working_time(result)
    assert cal.local(result).date() > day
    first = cal.business_day_at(t, 0, at)
    assert cal.is_working_time(first) and cal.local(first).date() >= day
    assert cal.local(first).date() == day or not cal.is_working_day(day)
    following = cal.business_day_at(t, n + 1, at)
    between = [
        d
        for i in range(1, (cal.local(following).date() - cal.local(result).date()).days)
        if cal.is_working_day(d := cal.local(result).date() + timedelta(days=i))
    ]
    assert following > result and between == []  # consecutive working days, none skipped


@settings(max_examples=100, deadline=None)
@given(calendars, instants, instants, instants)
def test_business_time_between_adds_up_and_is_bounded(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.business_time_between(a, c) == cal.business_time_between(a, b) + cal.business_time_between(b, c)
    assert timedelta(0) <= cal.business_time_between(a, b) <= b - a
