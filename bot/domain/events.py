"""The normalized event: what a webhook delivery means, whichever desk sent it.

Connectors turn a vendor payload into an `Event`; everything after intake (event log, tasks, policy,
replay) works on this type only. The raw payload is kept so an event can be replayed or re-parsed.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.domain.tickets import Role


class EventKind(enum.StrEnum):
    TICKET_CREATED = "ticket_created"
    TICKET_UPDATED = "ticket_updated"
    COMMENT_ADDED = "comment_added"
    STATUS_CHANGED = "status_changed"
    ASSIGNEE_CHANGED = "assignee_changed"
    TICKET_DELETED = "ticket_deleted"


@dataclass(frozen=True)
class Actor:
    """Who caused the event. Role `bot` means the bot's own write coming back: never acted on."""

    id: str | None
    role: Role
    name: str | None = None


@dataclass(frozen=True)
class Event:
    id: str
    desk: str
    kind: EventKind
    ticket_id: str
    actor: Actor
    delivery_id: str
    received_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    source: str = "webhook"
    """How the desk sent it: `event_subscription`, `trigger`, `webhook` or `automation`."""
    comment_public: bool | None = None
    """For comment events: whether the customer can see the comment (None when the payload does not say)."""

    def with_actor_role(self, role: Role) -> Event:
        return replace(self, actor=replace(self.actor, role=role))

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "desk": self.desk,
                "kind": self.kind.value,
                "ticket_id": self.ticket_id,
                "actor": {"id": self.actor.id, "role": self.actor.role.value, "name": self.actor.name},
                "delivery_id": self.delivery_id,
                "received_at": self.received_at.isoformat(),
                "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
                "source": self.source,
                "comment_public": self.comment_public,
                "payload": self.payload,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        data = json.loads(text)
        actor = data["actor"]
        return cls(
            id=data["id"],
            desk=data["desk"],
            kind=EventKind(data["kind"]),
            ticket_id=data["ticket_id"],
            actor=Actor(id=actor["id"], role=Role(actor["role"]), name=actor.get("name")),
            delivery_id=data["delivery_id"],
            received_at=datetime.fromisoformat(data["received_at"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]) if data.get("occurred_at") else None,
            source=data.get("source", "webhook"),
            comment_public=data.get("comment_public"),
            payload=data.get("payload") or {},
        )


def event_id(desk: str, delivery_id: str) -> str:
    """A short id derived from the delivery id, so a redelivery maps to the same event (dedupe)."""
    digest = hashlib.sha256(f"{desk}\0{delivery_id}".encode()).hexdigest()[:16]
    return f"{desk[:2]}-{digest}"
