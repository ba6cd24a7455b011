"""The Jira Service Management adapter's settings (policy file, `desks.jira`), as one typed model.

The policy schema composes this model and the adapter receives it as is. Ids that differ per site (the
service project, its service desk id, custom field ids) have no default: a site that does not set them
gets a clear error when the bot first needs them, not a silent write to the wrong field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StatusName = Literal["new", "open", "pending", "on_hold", "solved", "closed"]


class JiraOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment: Literal["cloud", "datacenter"] = "cloud"
    """Cloud (REST v3, ADF bodies) or Data Center / Server (REST v2, wiki-markup bodies)."""
    service_project: str | None = None
    """Key of the JSM service project the bot works in (e.g. `SD`)."""
    service_desk_id: str | None = None
    """Its service desk id (`/rest/servicedeskapi/servicedesk`)."""
    request_type_field: str | None = None
    """The "Customer Request Type" field id (e.g. `customfield_10010`). Unset: not written."""
    participants_field: str | None = None
    """The "Request participants" field id. Unset: participants are added through the JSM API only."""
    organizations_field: str | None = None
    """The "Organizations" field id. Unset: the organization is not read."""
    audit_field: str | None = None
    """Id of a paragraph (multi-line text) custom field that keeps the bot's audit note (the triage note), written
    in the same edit as the first response (e.g. `customfield_10050`). Unset: the note is an internal comment."""
    followup_field: str | None = None
    """Id of a paragraph (multi-line text) custom field where the bot keeps its last follow-up step (e.g.
    `strike-2 as of 2026-03-03T10:00:00+01:00`) and, with `followup.step_notes: field`, the step's notes for agents
    (e.g. `customfield_10051`): a step is then one edit (the customer's message, its notes and its marker) instead
    of one per internal note. Unset: the notes are internal comments."""
    group_cache_seconds: float = Field(default=60, ge=0)
    """How long a group's member list is reused before it is read again."""
    workflow_cache_seconds: float = Field(default=300, ge=0)
    """How long the transitions out of a workflow status are reused before they are read again (a transition the
    site refuses is read again at once)."""
    dev_project: str | None = None
    """Key of the project linked bugs are created in (e.g. `DEV`)."""
    link_type: str = "Relates"
    bug_issue_type: str = "Bug"
    default_resolution: str = "Done"
    transitions: dict[StatusName, str] | None = None
    """Common status → name of the transition that leads there, where the workflow has several."""
    status_map: dict[str, StatusName] | None = None
    """Workflow status name → common status, for names the status category does not tell."""

    @classmethod
    def of(cls, value: BaseModel | Mapping[str, Any] | None) -> JiraOptions:
        """The options as given (a policy section is already one), else validated from a mapping."""
        if isinstance(value, cls):
            return value
        if isinstance(value, BaseModel):
            return cls.model_validate(value.model_dump(include=set(cls.model_fields)))
        return cls.model_validate(dict(value or {}))
