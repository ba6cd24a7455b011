"""The `calendar` section of the policy file: each mistake is reported at its key path with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.test_schema import BASE, problems


@pytest.mark.parametrize(
    ("section", "where", "message"),
    [
        (
            "calendar: {timezone: Europe/Berln}",
            "calendar.timezone",
            "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        ),
        ("calendar: {timezone: Mars/Olympus}", "calendar.timezone", "unknown time zone 'Mars/Olympus'"),
        ("calendar: {hours: 9-17}", "calendar.hours", "'9-17' is not a range of hours like 09:00-17:00"),
        ("calendar: {hours: '17:00-09:00'}", "calendar.hours", "'17:00-09:00': the end must be after the start"),
        ("calendar: {workdays: [mon, fri, mon]}", "calendar.workdays", "a day is listed twice"),
        ("calendar: {workdays: []}", "calendar.workdays", "at least one working day is needed"),
        ("calendar: {workdays: [monday]}", "calendar.workdays[0]", "unknown value 'monday'"),
        ("calendar: {country: XX}", "calendar.country", "no public holidays known for country 'XX'"),
        ("calendar: {country: DE, subdivision: XY}", "calendar.subdivision", "unknown subdivision 'XY' of DE"),
        ("calendar: {subdivision: BY}", "calendar.subdivision", "a subdivision needs a country"),
        ("calendar: {closed: [2026-02-30]}", "calendar.closed[0]", "not a date (YYYY-MM-DD): '2026-02-30'"),
        ("calendar: {timezon: UTC}", "calendar.timezon", "unknown key (did you mean 'timezone'?)"),
        (
            "calendar: {organizations: {initech: {timezone: UTC}}}",
            "calendar.organizations.initech",
            "unknown organization 'initech'",
        ),
        (
            "calendar: {organizations: {acme: {timezone: Asia/Tokio}}}",
            "calendar.organizations.acme.timezone",
            "unknown time zone 'Asia/Tokio' (did you mean 'Asia/Tokyo'?)",
        ),
        (
            "calendar: {country: DE, subdivision: BY, organizations: {acme: {country: US, subdivision: BY}}}",
            "calendar.organizations.acme.subdivision",
            "unknown subdivision 'BY' of US",
        ),
        (
            "calendar: {organizations: {acme: {hourz: '08:00-12:00'}}}",
            "calendar.organizations.acme.hourz",
            "unknown key (did you mean 'hours'?)",
        ),
    ],
)
def test_each_calendar_problem_names_its_key_path(tmp_path: Path, section: str, where: str, message: str) -> None:
    found = problems(tmp_path, BASE + section + "\n")
    assert len(found) == 1, found
    ((got_where, got_message),) = found
    assert got_where == where
    assert got_message.startswith(message) and "(line " in got_message


def test_valid_calendars_load(tmp_path: Path) -> None:
    text = BASE + (
        "calendar:\n"
        "  timezone: America/New_York\n  workdays: [sun, mon, tue, wed, thu]\n  hours: '07:30-24:00'\n"
        "  country: us\n  subdivision: NY\n  closed: [2026-12-24]\n"
        "  organizations:\n    acme: {country: DE, subdivision: BY}\n    '401': {timezone: UTC}\n"
    )
    assert problems(tmp_path, text) == []
