"""Typed shapes of the Jira / JSM webhook bodies the bot reads (fields it does not read are ignored).

Three styles arrive at the same URL (see `connectors.jira.webhook`): admin webhooks (`webhookEvent`, `issue`,
`user`, `comment`, `changelog`; old Server bodies lack `webhookEvent`), the JSM Automation template
(`AUTOMATION_TEMPLATE`), and Automation "Issue data" bodies (the issue itself: `key`, `fields`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from connectors.payloads import Flag, Id, Payload, ShortText

MAX_CHANGELOG_ITEMS = 1000
"""One edit changes a handful of fields; a changelog longer than this is not a real delivery."""
MAX_EPOCH_MS = 10**14
"""Millisecond timestamps beyond the year 5000 are not clocks."""


class User(Payload):
    accountId: Id | None = None
    key: ShortText | None = None
    name: ShortText | None = None
    displayName: ShortText | None = None
    accountType: ShortText | None = None


class Issue(Payload):
    key: ShortText | None = None


class Comment(Payload):
    self_url: ShortText | None = Field(default=None, alias="self")
    author: User | None = None
    jsdPublic: bool | None = None
    created: ShortText | int | None = None
    updated: ShortText | int | None = None


class ChangeItem(Payload):
    field: ShortText | None = None


class Changelog(Payload):
    items: Annotated[list[ChangeItem], Field(max_length=MAX_CHANGELOG_ITEMS)] | None = None


class Webhook(Payload):
    """An admin webhook (Cloud or Server)."""

    webhookEvent: ShortText | None = None
    issue_event_type_name: ShortText | None = None
    timestamp: Annotated[float, Field(ge=0, le=MAX_EPOCH_MS)] | None = None
    user: User | None = None
    issue: Issue | None = None
    comment: Comment | None = None
    changelog: Changelog | None = None


class Template(Payload):
    """A JSM Automation "Send web request" body built from `AUTOMATION_TEMPLATE`."""

    issue: Annotated[str, Field(max_length=255)]
    event: ShortText | None = None
    actor: ShortText | None = None
    actor_type: ShortText | None = None
    internal: Flag | None = None
    id: Id | None = None


class IssueData(Payload):
    """An Automation "Issue data" body: the issue JSON itself."""

    key: ShortText
    fields: dict[str, Any]
