"""The Zendesk adapter's settings (policy file, `desks.zendesk`), as one typed model.

The policy schema composes this model and the adapter receives it as is: a value not set here is the
adapter's documented default, never a guess (no account has the sandbox's field ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class ZendeskOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_type_field: int | None = None
    """Id of the ticket field (a dropdown) that holds the request type. Unset: the request type is
    decided and recorded (events, triage note) but not written to the ticket."""
    away_field: str | None = None
    """Key of a checkbox user field that marks an agent away. Unset: only the policy's `agents.*.away`
    dates (and agents Zendesk itself marks unavailable) are skipped."""
    group_cache_seconds: float = Field(default=60, ge=0)
    """How long a group's member list is reused before it is read again."""
    resolution_field: int | None = Field(
        default=None, validation_alias=AliasChoices("resolution_field", "closure_code_field")
    )
    """Id of a custom ticket field (text or dropdown) that keeps the method of resolution ("User not
    responded"...), which Zendesk has no field of its own for. Unset: the resolution is written as a tag
    `resolution-<words>` instead, so it is never dropped. `closure_code_field` is accepted as its other name."""

    followup_field: int | None = None
    """Id of a custom ticket field (type *Multi-line*) where the bot keeps its last follow-up step (e.g.
    `strike-2 as of 2026-03-03T10:00:00+01:00`) and, with `followup.step_notes: field`, the step's note for
    agents. Search results carry it, so a sweep decides most strikes and resolves without reading each ticket
    and writes each in one update. Unset: every candidate's comments are read."""

    audit_field: int | None = None
    """Id of a multi-line text ticket field that keeps the bot's audit note (the triage note: rule, reasoning,
    who was chosen and why), written in the same update as the first response. Unset: the note is an internal
    comment, which costs a second update per new ticket (one update carries one comment)."""

    @classmethod
    def of(cls, value: BaseModel | Mapping[str, Any] | None) -> ZendeskOptions:
        """The options as given (a policy section is already one), else validated from a mapping."""
        if isinstance(value, cls):
            return value
        if isinstance(value, BaseModel):
            return cls.model_validate(value.model_dump(include=set(cls.model_fields)))
        return cls.model_validate(dict(value or {}))
