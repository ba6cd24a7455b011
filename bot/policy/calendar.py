"""Business days and hours: when the bot may contact a customer and how "N business days" are counted.

Follow-ups run on the customer's working days ("strike 2 on the next business day at 10:00"), and the
resolve rules wait "1 business day" of silence; both must skip weekends, public holidays (from the
maintained `holidays` package rather than a hand-kept list) and company closures, and must not drift by
an hour when the clocks change. Everything here is pure: instants are passed in, never read from a clock.

Instants go in as aware datetimes (any zone) and come out in UTC; `local()` turns one into the calendar's
wall-clock time for a note such as "strike 3 due Tue 3 Mar 10:00 Europe/Berlin". All arithmetic is done in
UTC because Python subtracts two datetimes of one zone by wall clock (an hour off across a DST change), and
a zoned result in the repeated autumn hour (fold=1) compares unequal, neither less nor greater, to the
same instant in UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from bot.policy.schema import WEEKDAYS, Calendar, Policy

SEARCH_DAYS = 3660
"""How far ahead a working day is looked for before the calendar is declared to have none (ten years)."""


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """Working hours `opens`..`closes` (minutes after local midnight) on `workdays` (0 = Monday) in `zone`,
    except public holidays of `public_holidays` and the `closed` dates."""

    zone: ZoneInfo
    workdays: frozenset[int]
    opens: int
    closes: int
    public_holidays: holidays.HolidayBase | None = None
    closed: frozenset[date] = frozenset()

    @classmethod
    def from_settings(cls, settings: Calendar) -> BusinessCalendar:
        """The calendar a policy's `calendar` section (or an organization's merged one) describes."""
        return _build(settings.model_dump_json(exclude={"organizations"}))

    # --- days ------------------------------------------------------------------------------------------

    def day_off(self, day: date) -> str | None:
        """Why `day` is not a working day (the holiday's name, "closed", "weekend"), None when it is one."""
        if day in self.closed:
            return "closed"
        if self.public_holidays is not None and day in self.public_holidays:
            return str(self.public_holidays.get(day))
        if day.weekday() not in self.workdays:
            return "weekend"
        if self._at(day, self.opens) >= self._at(day, self.closes):
            return "no working hours (the clocks skip them)"  # e.g. hours 02:00-03:00 on a spring-forward day
        return None

    def is_working_day(self, day: date) -> bool:
        return self.day_off(day) is None

    def working_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The instants (UTC) the working hours of `day` begin and end; None on a day off."""
        if not self.is_working_day(day):
            return None
        return self._at(day, self.opens), self._at(day, self.closes)

    @property
    def day_length(self) -> timedelta:
        """Working time of one ordinary working day."""
        return timedelta(minutes=self.closes - self.opens)

    def local(self, t: datetime) -> datetime:
        """`t` on this calendar's wall clock, for display (compare instants in UTC, see the module doc)."""
        return _utc(t).astimezone(self.zone)

    # --- instants --------------------------------------------------------------------------------------

    def is_working_time(self, t: datetime) -> bool:
        """Whether `t` lies within working hours (opening time included, closing time not)."""
        t = _utc(t)
        hours = self.working_hours(self._local_date(t))
        return hours is not None and hours[0] <= t < hours[1]

    def next_working_moment(self, t: datetime) -> datetime:
        """`t` itself when it is working time, else the next opening."""
        t = _utc(t)
        for start, end in self._intervals(self._local_date(t)):
            if t < end:
                return max(t, start)
        raise AssertionError("unreachable: _intervals raises when it runs out")

    def add_business_hours(self, t: datetime, amount: timedelta | float) -> datetime:
        """The moment `amount` of working time (a timedelta, or hours) after `t`.

        Time outside working hours does not count. The result is always working time: an amount that is
        used up exactly at closing lands on the next opening (Friday 16:00 + 1 hour = Monday 09:00), which
        is the same business instant and the first at which anything can be done.
        """
        remaining = amount if isinstance(amount, timedelta) else timedelta(hours=amount)
        if remaining < timedelta(0):
            raise ValueError("a negative amount of business time")
        t = _utc(t)
        for start, end in self._intervals(self._local_date(t)):
            if end <= t:
                continue
            begin = max(t, start)
            if remaining < end - begin:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable: _intervals raises when it runs out")

    def add_business_days(self, t: datetime, days: int) -> datetime:
        """The same local time of day, `days` working days later ("1 business day of silence").

        `t` outside working hours counts from the next opening (Saturday 11:00 + 1 day = Tuesday 09:00).
        The wall-clock time is kept across DST changes; a time that is past closing on the target day (only
        possible when hours reach into a DST gap) lands on the next opening.
        """
        if days < 0:
            raise ValueError("a negative number of business days")
        start = _utc(self.next_working_moment(t))
        local = start.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        target = self._nth_working_day(local.date(), days)
        # The fold keeps a time in the repeated autumn hour on its own side of the change.
        result = self._at(target, minute, fold=local.fold) + timedelta(
            seconds=local.second, microseconds=local.microsecond
        )
        opens, closes = self._hours_of(target)
        if result >= closes:  # the time of day falls into a DST gap at the end of the target day's hours
            return self.next_working_moment(result)
        return max(result, opens)

    def business_day_at(self, t: datetime, n: int, at: time) -> datetime:
        """The `n`th working day after the day of `t` (local date), at local time `at` (strike n at 10:00).

        `n` = 0 is the day of `t` itself when it is a working day, else the next one. A time outside the
        working hours of that day means its opening, so a strike never goes out at night.
        """
        if n < 0:
            raise ValueError("a negative number of business days")
        day = self._local_date(_utc(t))
        target = self._nth_working_day(day, n) if n else next(d for d, _ in self._working_days(day))
        opens, closes = self._hours_of(target)
        minute = at.hour * 60 + at.minute
        result = self._at(target, minute) + timedelta(seconds=at.second, microseconds=at.microsecond)
        if not self.opens <= minute < self.closes or not opens <= result < closes:
            return opens
        return result

    def after_slot(self, t: datetime, share: float, window: tuple[int, int]) -> datetime:
        """The first moment at or after `t` that lies between a working day's slot and its closing.

        The slot is `share` (0 <= share < 1) of the way through `window` (minutes after local midnight) clipped
        to that day's working hours, or through the whole working hours where the two do not overlap; whole
        minutes, so a ticket's slot reads the same every day. `t` past the slot of its day is `t` itself while
        the day's hours last (a message that falls due later in the day is not held to the next one).
        """
        t = _utc(t)
        for day, (opens, closes) in self._working_days(self._local_date(t)):
            start, end = max(opens, self._at(day, window[0])), min(closes, self._at(day, window[1]))
            if start >= end:
                start, end = opens, closes
            minutes = (end - start) // timedelta(minutes=1)
            moment = max(t, start + timedelta(minutes=int(share * minutes)))
            if moment < closes:
                return moment
        raise AssertionError("unreachable: _working_days raises when it runs out")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b` (negative when `b` is before `a`)."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.business_time_between(b, a)
        total = timedelta(0)
        for start, end in self._intervals(self._local_date(a)):
            if start >= b:
                break
            overlap = min(end, b) - max(start, a)
            if overlap > timedelta(0):
                total += overlap
        return total

    # --- internals -------------------------------------------------------------------------------------

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()

    def _at(self, day: date, minute: int, fold: int = 0) -> datetime:
        """Local wall-clock `minute` of `day` as a UTC instant (24:00 is the next midnight); `fold` = 1 picks
        the second of two equal wall-clock times in the autumn."""
        wall = datetime.combine(day, time(), tzinfo=self.zone) + timedelta(minutes=minute)
        return wall.replace(fold=fold).astimezone(UTC)

    def _hours_of(self, day: date) -> tuple[datetime, datetime]:
        hours = self.working_hours(day)
        if hours is None:
            raise AssertionError(f"{day} was chosen as a working day")
        return hours

    def _working_days(self, first: date) -> Iterator[tuple[date, tuple[datetime, datetime]]]:
        """Working days from `first` on with their hours; a calendar without any fails loudly."""
        for offset in range(SEARCH_DAYS):
            day = first + timedelta(days=offset)
            hours = self.working_hours(day)
            if hours is not None:
                yield day, hours
        raise ValueError(f"no working day within {SEARCH_DAYS} days of {first}: check the calendar's closed dates")

    def _intervals(self, first: date) -> Iterator[tuple[datetime, datetime]]:
        for _, hours in self._working_days(first):
            yield hours

    def _nth_working_day(self, day: date, n: int) -> date:
        """The `n`th working day strictly after `day` (`day` itself for n = 0)."""
        if n == 0:
            return day
        days = self._working_days(day + timedelta(days=1))
        for _ in range(n - 1):
            next(days)
        return next(days)[0]


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: the calendar needs aware instants")
    return t.astimezone(UTC)


@functools.lru_cache(maxsize=128)
def _build(settings_json: str) -> BusinessCalendar:
    """Built once per distinct calendar: loading a country's holidays is the costly part."""
    settings = Calendar.model_validate_json(settings_json)
    opens, closes = hours_range(settings.hours)
    public = holidays.country_holidays(settings.country, subdiv=settings.subdivision) if settings.country else None
    return BusinessCalendar(
        zone=ZoneInfo(settings.timezone),
        workdays=frozenset(WEEKDAYS.index(d) for d in settings.workdays),
        opens=opens,
        closes=closes,
        public_holidays=public,
        closed=frozenset(settings.closed),
    )


def hours_range(hours: str) -> tuple[int, int]:
    """A validated range of hours such as "09:00-17:00" as minutes after local midnight (end up to 24:00)."""
    start, end = (part.split(":") for part in hours.split("-"))
    return int(start[0]) * 60 + int(start[1]), int(end[0]) * 60 + int(end[1])


def calendar_for(policy: Policy, desk: str, organization_id: str | None = None) -> BusinessCalendar:
    """The calendar of a customer's organization (by the desk's organization id), else the main one.

    `calendar.organizations` is keyed by the organization names of `desks.<desk>.organizations` or by raw
    desk ids, like the triage rules.
    """
    overrides = policy.calendar.organizations
    key = organization_id
    if key is not None and key not in overrides:
        names = {desk_id: name for name, desk_id in policy.desk(desk).organizations.items()}
        key = names.get(key)
    return BusinessCalendar.from_settings(policy.calendar.for_organization(key))
