"""Typed shapes of the Zendesk webhook bodies the bot reads (fields it does not read are ignored).

Two styles arrive at the same URL (see `connectors.zendesk.webhook`): event subscriptions (an envelope with
`type`, `id`, `time`, `detail` = the ticket, `event` = what happened) and trigger bodies (the template an
admin pastes into a trigger, `TRIGGER_TEMPLATE`).
"""

from __future__ import annotations

from connectors.payloads import Flag, Id, NumericId, Payload, ShortText


class Author(Payload):
    id: Id | None = None
    is_staff: bool | None = None
    name: ShortText | None = None


class Comment(Payload):
    author: Author | None = None
    is_public: bool | None = None


class EventBody(Payload):
    """`event` of a subscription: for `ticket.comment_added`, the comment with its author."""

    comment: Comment | None = None


class Detail(Payload):
    """`detail` of a ticket event subscription: the ticket as it is now."""

    id: NumericId
    actor_id: Id | None = None
    requester_id: Id | None = None


class Subscription(Payload):
    type: ShortText
    id: Id | None = None
    time: ShortText | None = None
    detail: Detail
    event: EventBody | None = None


class Trigger(Payload):
    """A trigger or automation body built from `TRIGGER_TEMPLATE`; every value is rendered as text."""

    ticket_id: NumericId
    event: ShortText | None = None
    actor_id: Id | None = None
    actor_role: ShortText | None = None
    requester_id: Id | None = None
    updated_at: ShortText | None = None
    comment_public: Flag | None = None
