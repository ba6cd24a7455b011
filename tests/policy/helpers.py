"""Ticket and agent builders for the policy tests (demo-seed people, a fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.tickets import AgentLoad, Person, Role, Status, Ticket

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CATHY = Person("301", "Cathy Customer", "cathy@acme.test", organization_id="401")
SAM = Person("105", "Sam Staff", "sam@example.com", role=Role.AGENT)
ALICE = Person("101", "Alice Agent", "alice@example.com", role=Role.AGENT)
BOB = Person("102", "Bob Agent", "bob@example.com", role=Role.AGENT)
CAROL = Person("103", "Carol Agent", "carol@example.com", role=Role.AGENT)


def ticket(subject: str = "Question", description: str = "Hello", **extra: Any) -> Ticket:
    values: dict[str, Any] = {
        "desk": "zendesk",
        "id": "42",
        "subject": subject,
        "description": description,
        "status": Status.NEW,
        "requester": CATHY,
        "organization_id": CATHY.organization_id,
        "created_at": NOW,
        "updated_at": NOW,
        "version": "v1",
        "channel": "web",
    }
    values.update(extra)
    return Ticket(**values)


def loads(*pairs: tuple[Person, int]) -> list[AgentLoad]:
    return [AgentLoad(person, count) for person, count in pairs]
