"""The follow-up state read from a ticket: whose move it is, since when the customer is waited on, the strikes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.domain.tickets import Comment, Person, Role, Status, StatusChange, Visibility
from bot.policy.followup_state import (
    ON_HOLD_TAG,
    PAUSE_TAG,
    STOP_TAG,
    STRIKE_TAGS,
    Party,
    follow_up_state,
    last_public_word,
    strike_count,
)
from tests.policy.helpers import ALICE, CATHY, NOW, ticket

BOT = Person("900", "Helpdesk Bot", "bot@example.com", role=Role.BOT)
PUBLIC, INTERNAL = Visibility.PUBLIC, Visibility.INTERNAL


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def said(n: int, who: Person, hours: float, visibility: Visibility = PUBLIC) -> Comment:
    return Comment(str(n), who, f"comment {n}", visibility, at(hours))


def test_customer_spoke_last_so_support_must_move() -> None:
    t = ticket(status=Status.OPEN, comments=(said(1, CATHY, 0), said(2, ALICE, 1), said(3, CATHY, 2)))
    state = follow_up_state(t)
    assert state.waiting_on is Party.SUPPORT and state.waiting_since is None
    assert state.last_public is not None and (state.last_public.role, state.last_public.at) == (Role.CUSTOMER, at(2))
    assert state.last_customer_reply == at(2) and state.contacts == ()


def test_pending_after_an_agents_question_waits_on_the_customer_from_that_question() -> None:
    comments = (said(1, CATHY, 0), said(2, ALICE, 1), said(3, BOT, 25), said(4, BOT, 49))
    state = follow_up_state(ticket(status=Status.PENDING, comments=comments, tags=STRIKE_TAGS[:2]))
    assert state.waiting_on is Party.CUSTOMER and state.waiting_since == at(1)
    assert state.contacts == (at(1), at(25), at(49)) and state.bot_contacts == 2
    assert state.strikes == 2 and not state.stale_strikes


def test_internal_notes_never_count() -> None:
    comments = (said(1, CATHY, 0), said(2, ALICE, 1), said(3, CATHY, 2, INTERNAL), said(4, ALICE, 3, INTERNAL))
    state = follow_up_state(ticket(status=Status.PENDING, comments=comments))
    assert state.last_public is not None and state.last_public.comment_id == "2"
    assert state.waiting_on is Party.CUSTOMER and state.waiting_since == at(1) and state.contacts == (at(1),)


def test_a_customer_reply_after_strike_two_makes_the_strikes_stale() -> None:
    comments = (said(1, CATHY, 0), said(2, ALICE, 1), said(3, BOT, 25), said(4, BOT, 49), said(5, CATHY, 50))
    state = follow_up_state(ticket(status=Status.PENDING, comments=comments, tags=(*STRIKE_TAGS[:2], "vip")))
    assert state.waiting_on is Party.SUPPORT and state.stale_strikes  # desk not flipped to open yet: reply wins
    # The agent answers and asks again: waiting restarts from that answer; the old tags still do not hold.
    again = follow_up_state(
        ticket(status=Status.PENDING, comments=(*comments, said(6, ALICE, 51)), tags=STRIKE_TAGS[:2])
    )
    assert again.waiting_on is Party.CUSTOMER and again.waiting_since == at(51)
    assert again.bot_contacts == 0 and again.stale_strikes


def test_comment_order_from_the_desk_does_not_matter() -> None:
    comments = (said(3, CATHY, 2), said(1, ALICE, 0), said(2, ALICE, 1))
    t = ticket(status=Status.PENDING, comments=comments)
    word = last_public_word(t)
    assert word is not None and word.role is Role.CUSTOMER and word.comment_id == "3"
    assert follow_up_state(t).waiting_on is Party.SUPPORT


@pytest.mark.parametrize(
    ("status", "tags", "expected"),
    [
        (Status.PENDING, (), Party.CUSTOMER),
        (Status.ON_HOLD, (ON_HOLD_TAG,), Party.CUSTOMER),  # the bot's out-of-office hold
        (Status.ON_HOLD, (), Party.SUPPORT),  # an agent's hold waits on a third party, not the customer
        (Status.OPEN, (), Party.SUPPORT),  # answered but still being worked on
        (Status.NEW, (), Party.SUPPORT),
        (Status.SOLVED, (), None),
        (Status.CLOSED, (), None),
    ],
)
def test_status_decides_whether_support_waits(status: Status, tags: tuple[str, ...], expected: Party | None) -> None:
    state = follow_up_state(ticket(status=status, tags=tags, comments=(said(1, CATHY, 0), said(2, ALICE, 1))))
    assert state.waiting_on is expected
    assert (state.waiting_since is not None) == (expected is Party.CUSTOMER)


def test_a_later_move_into_pending_restarts_the_clock() -> None:
    comments = (said(1, CATHY, 0), said(2, ALICE, 1), said(3, BOT, 25))
    history = (
        StatusChange(at(1), Status.PENDING, Status.OPEN, Role.AGENT),
        StatusChange(at(26), Status.ON_HOLD, Status.PENDING, Role.BOT),
        StatusChange(at(30), Status.ON_HOLD, Status.ON_HOLD),  # a repeated entry is no move
        StatusChange(at(97), Status.PENDING, Status.ON_HOLD, Role.BOT),  # reactivated: strikes restart
    )
    state = follow_up_state(ticket(status=Status.PENDING, comments=comments, status_changes=history))
    assert state.waiting_since == at(97)
    held = follow_up_state(
        ticket(status=Status.ON_HOLD, tags=(ON_HOLD_TAG,), comments=comments, status_changes=history[:3])
    )
    assert held.waiting_since == at(26) and held.on_hold


def test_waiting_without_any_word_of_support_counts_from_the_snapshot() -> None:
    t = ticket(status=Status.PENDING, comments=(said(1, CATHY, 0),), updated_at=at(5))
    state = follow_up_state(t)
    assert state.waiting_on is Party.SUPPORT  # the customer's words are the last ones
    empty = follow_up_state(ticket(status=Status.PENDING, updated_at=at(5)))
    assert empty.waiting_on is Party.CUSTOMER and empty.waiting_since == at(5) and empty.last_public is None


@pytest.mark.parametrize(
    ("tags", "count"),
    [
        ((), 0),
        (("helpdesk-bot-strike-1",), 1),
        (("helpdesk-bot-strike-1", "helpdesk-bot-strike-2"), 2),
        (("helpdesk-bot-strike-3", "helpdesk-bot-strike-1"), 3),  # the highest one reached
        (("helpdesk-bot-strike-0", "helpdesk-bot-strike-x", "helpdesk-bot-strike-2-old", "strike-2"), 0),
    ],
)
def test_strikes_are_counted_from_the_tags(tags: tuple[str, ...], count: int) -> None:
    assert strike_count(tags) == count


def test_agent_tags_pause_stop_and_hold() -> None:
    state = follow_up_state(ticket(status=Status.PENDING, tags=(PAUSE_TAG, STOP_TAG, ON_HOLD_TAG)))
    assert (state.paused, state.stopped, state.on_hold) == (True, True, True)
    plain = follow_up_state(ticket(status=Status.PENDING))
    assert (plain.paused, plain.stopped, plain.on_hold, plain.strikes, plain.stale_strikes) == (
        False,
        False,
        False,
        0,
        False,
    )
