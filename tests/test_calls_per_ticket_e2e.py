"""Desk API calls per new ticket, counted where they land: at the sandbox desk.

The desk's API quota is shared with every agent tool, so it is what limits the bot: each new ticket must cost
one read and one write (the triage audit travels in that one write; every runbook of the event decides on the
one read). One worker process with one pool child: a few tickets first warm its per-process caches (the bot's
own user, group members, people found by email), then every call the bot makes for a batch of new tickets of
the common kinds is counted. A second write per ticket (a separate triage note, a separate CC call, a re-read
between runbooks) fails it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from bot.domain.tickets import Status
from bot.eventlog import State
from bot.policy.triage import TRIAGED_TAG
from bot.webhooks import EMPTY_BOT_IDS_TTL
from tests.conftest import wait_for
from tests.sandbox_helpers import audit_note, create_ticket
from tests.stack import Stack, policy_with_budgets, running_stack

pytestmark = pytest.mark.e2e

BOT = "bot@example.com"
TICKETS = (  # (customer, subject, body): a general inquiry from an organisation with a CC, and from one without
    ("cathy@acme.test", "Question about invoices", "Where can I download last year's invoices?"),
    ("gary@globex.test", "Question about seats", "How many seats does our plan include?"),
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("calls")
    budgets = {"zendesk": {"per_minute": 5000}, "jira": {"per_minute": 5000}}
    with running_stack(home, workers=1, concurrency=1, extra_env=policy_with_budgets(home, budgets)) as running:
        yield running


WAITING = (  # technical support: the first response asks for details and the ticket waits on the customer
    ("cathy@acme.test", "Export fails", "The CSV export fails with an error."),
    ("gary@globex.test", "Import broken", "The import is broken since Monday."),
)


def open_and_triage(
    stack: Stack, desk: str, rounds: int, tickets: tuple[tuple[str, str, str], ...] = TICKETS
) -> list[str]:
    ids = [
        create_ticket(stack.sandbox_url, desk, customer, f"{subject} ({n})", body)
        for n in range(rounds)
        for customer, subject, body in tickets
    ]

    def settled() -> bool:  # triaged, and the echoes of the bot's own writes dealt with too
        records = [stack.log.records(stack.log.ticket_event_ids(desk, tid)) for tid in ids]
        triaged = all(any(r.state is State.DONE for r in recs) for recs in records)
        return triaged and all(r.state is not State.QUEUED for recs in records for r in recs)

    wait_for(settled, timeout=90, interval=0.2)
    return ids


def bot_calls(stack: Stack, desk: str) -> Counter[str]:
    login = BOT if desk == "jira" else f"{BOT}/token"
    return Counter(a.key for a in stack.sandboxes[desk].control.arrivals if a.login == login)


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_a_new_ticket_costs_one_read_and_one_write(stack: Stack, desk: str) -> None:
    open_and_triage(stack, desk, rounds=1)  # the worker has built its adapter and filled its caches,
    time.sleep(EMPTY_BOT_IDS_TTL)  # and intake has learnt the bot's id on this desk, so it ignores the bot's echoes
    before = bot_calls(stack, desk)
    ids = open_and_triage(stack, desk, rounds=3)
    spent = bot_calls(stack, desk) - before

    reads = sum(n for key, n in spent.items() if key.startswith("GET "))
    writes = sum(spent.values()) - reads
    assert (reads, writes) == (len(ids), len(ids)), dict(spent)
    for tid in ids:  # and each ticket was triaged in full by that one write: reply, assignee, tag, triage note
        ticket = stack.desk(desk).get_ticket(tid)
        assert TRIAGED_TAG in ticket.tags and ticket.assignee_id
        assert [c.author.email for c in ticket.comments if c.public][-1] == BOT
        assert "Triaged by helpdesk-bot" in (audit_note(stack.sandbox_url, desk, tid) or "")
    acme = stack.desk(desk).get_ticket(ids[0])  # Cathy's organisation keeps Sam in the loop: in the same write
    assert acme.participant_ids


@pytest.mark.parametrize(("desk", "writes"), [("zendesk", 1), ("jira", 2)])
def test_a_new_ticket_left_waiting_on_the_customer_costs_one_read(stack: Stack, desk: str, writes: int) -> None:
    """Zendesk sets the status in the same update; JSM moves a request through its workflow with a transition
    of its own (one more write), whose options are read once per status, not once per ticket."""
    open_and_triage(stack, desk, rounds=1, tickets=WAITING)
    time.sleep(EMPTY_BOT_IDS_TTL)
    before = bot_calls(stack, desk)
    ids = open_and_triage(stack, desk, rounds=3, tickets=WAITING)
    spent = bot_calls(stack, desk) - before

    reads = sum(n for key, n in spent.items() if key.startswith("GET "))
    assert (reads, sum(spent.values()) - reads) == (len(ids), writes * len(ids)), dict(spent)
    assert all(stack.desk(desk).get_ticket(tid).status is Status.PENDING for tid in ids)
