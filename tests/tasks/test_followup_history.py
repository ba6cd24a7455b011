"""What the desks tell the follow-up ladder beyond comments, read through the real adapters from the sandbox over
HTTP: the status history (Zendesk ticket audits, Jira's changelog) that starts the waiting clock, and the mail
headers and subject a mail gateway keeps with a Zendesk comment, which mark an auto-reply whatever its text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from bot.domain.tickets import NewComment, Status, TicketChanges, Visibility
from bot.policy import followup
from bot.policy.runbook import Situation
from connectors.sandboxes import build
from tests.conftest import ServedApp
from tests.sandbox_helpers import create_ticket
from tests.tasks.test_followup_race import runtime_for


@pytest.fixture
def sandbox() -> Iterator[str]:
    app, _ = build(seed=True)
    served = ServedApp(app)
    yield served.url
    served.close()


@pytest.mark.parametrize("desk_name", ["zendesk", "jira"])
def test_the_status_history_starts_the_waiting_clock(
    sandbox: str, redis_prefix: str, tmp_path: Path, desk_name: str
) -> None:
    runtime = runtime_for(sandbox, redis_prefix, tmp_path)
    desk = runtime.desk(desk_name)
    ticket_id = create_ticket(sandbox, desk_name, "cathy@acme.test", "Export fails", "It shows an error.")
    asked = NewComment("Which browser do you use?", Visibility.PUBLIC)
    desk.apply(desk.get_ticket(ticket_id), TicketChanges(status=Status.OPEN, comment=asked))
    desk.apply(desk.get_ticket(ticket_id), TicketChanges(status=Status.PENDING))  # set pending later, no comment

    ticket = desk.get_ticket(ticket_id)
    moves = [c.status for c in ticket.status_changes]
    assert moves[-1] is Status.PENDING and Status.OPEN in moves, ticket.status_changes
    question = next(c for c in ticket.comments if c.body == "Which browser do you use?")
    assert ticket.status_changes[-1].at >= question.created_at
    state = followup.standing(ticket, runtime.policy, desk_name)
    assert state.waiting_on == "customer" and state.since == ticket.status_changes[-1].at


def test_mail_headers_kept_with_a_zendesk_comment_mark_an_auto_reply(
    sandbox: str, redis_prefix: str, tmp_path: Path
) -> None:
    runtime = runtime_for(sandbox, redis_prefix, tmp_path)
    desk = runtime.desk("zendesk")
    ticket_id = create_ticket(sandbox, "zendesk", "cathy@acme.test", "Export fails", "It shows an error.")
    asked = NewComment("Which browser do you use?", Visibility.PUBLIC)
    desk.apply(desk.get_ticket(ticket_id), TicketChanges(status=Status.PENDING, comment=asked))
    cathy = desk.find_person("cathy@acme.test")
    assert cathy is not None
    # A mail gateway posts Cathy's auto-reply through the API, keeping its subject and headers as metadata.
    resp = requests.put(
        f"{sandbox}/api/v2/tickets/{ticket_id}.json",
        json={
            "ticket": {
                "comment": {"body": "Thank you for your message.", "author_id": int(cathy.id), "public": True},
                "metadata": {"subject": "Re: Export fails", "headers": {"Auto-Submitted": "auto-replied"}},
            }
        },
        auth=("bot@example.com/token", "x"),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    ticket = desk.get_ticket(ticket_id)
    reply = ticket.comments[-1]
    assert reply.headers == (("Auto-Submitted", "auto-replied"),) and reply.subject == "Re: Export fails"
    now = datetime.now(UTC) + timedelta(minutes=1)
    verdict = followup.decide_reply(Situation("zendesk", ticket, runtime.policy, now))
    assert verdict.outcome.startswith("out of office: on hold until"), verdict.outcome
    assert "header Auto-Submitted: auto-replied" in next(a.body for a in verdict.actions if hasattr(a, "body"))
