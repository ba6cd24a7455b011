"""The policy file: what the bot does, per desk, validated with errors that point at the offending key.

Every section is a pydantic model with unknown keys forbidden, so a typo is an error with its path
(`triage.rules[2].match.regex: ...`) instead of a silently ignored setting. With no file configured, the
documented default shipped next to this module (`default.yaml`) is used, so the bot runs out of the box.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config import Problem

DEFAULT_POLICY = Path(__file__).with_name("default.yaml")
REQUEST_TYPES = (
    "general_inquiry",
    "technical_support",
    "configuration_change",
    "feedback",
    "phone_only",
    "incident",
)
RequestType = Literal[
    "general_inquiry", "technical_support", "configuration_change", "feedback", "phone_only", "incident"
]
Strategy = Literal["round_robin", "least_loaded", "skills"]
ADAPTER_KEYS = (
    "request_type_field",
    "away_field",
    "group_cache_seconds",
    "service_project",
    "service_desk_id",
    "dev_project",
    "link_type",
    "bug_issue_type",
    "deployment",
    "default_resolution",
    "transitions",
    "status_map",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeskOptions(Strict):
    """Desk-specific ids the policy refers to by name, and the adapter's own settings."""

    groups: dict[str, str] = Field(default_factory=dict)
    """Group name used in this file → the desk's group id (Jira: group name)."""
    request_types: dict[RequestType, str] = Field(default_factory=dict)
    """Request type → the value the desk stores (Zendesk: tagger option value; Jira: request type id)."""
    organizations: dict[str, str] = Field(default_factory=dict)
    """Organization name used in this file → the desk's organization id."""
    shadow: bool = False
    """Decide and record, but write nothing on this desk (see `helpdesk-bot shadow-report`)."""
    request_type_field: str | int | None = None
    away_field: str | None = None
    group_cache_seconds: float | None = None
    service_project: str | None = None
    service_desk_id: str | None = None
    dev_project: str | None = None
    link_type: str | None = None
    bug_issue_type: str | None = None
    deployment: Literal["cloud", "datacenter"] | None = None
    default_resolution: str | None = None
    transitions: dict[str, str] | None = None
    status_map: dict[str, str] | None = None


class Match(Strict):
    """Conditions of a rule: every condition given must hold; within a list, any value does."""

    keywords: list[str] = Field(default_factory=list)
    subject_keywords: list[str] = Field(default_factory=list)
    description_keywords: list[str] = Field(default_factory=list)
    regex: str | None = None
    form: list[str] = Field(default_factory=list)
    request_type: list[str] = Field(default_factory=list)
    """Request type the customer picked on the portal / form (the desk's value)."""
    tags: list[str] = Field(default_factory=list)
    channel: list[str] = Field(default_factory=list)
    organization: list[str] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not any(getattr(self, name) for name in type(self).model_fields):
            raise ValueError("a rule needs at least one condition (use triage.default for the fallback)")
        return self


class Skills(Strict):
    language: str | None = None
    product: str | None = None


class Assignment(Strict):
    group: str
    """A group name from `desks.<desk>.groups`."""
    strategy: Strategy = "round_robin"
    skills: Skills | None = None


class Rule(Strict):
    name: str
    match: Match
    request_type: RequestType
    assign: Assignment | None = None
    shadow: bool = False
    """Decide and record this rule's tickets without writing (on every desk)."""


class Default(Strict):
    request_type: RequestType = "general_inquiry"
    assign: Assignment | None = None


class Triage(Strict):
    enabled: bool = True
    rules: list[Rule] = Field(default_factory=list)
    default: Default = Field(default_factory=Default)
    first_response: bool = True
    triage_note: bool = True
    resolution: str = "Done"
    """Resolution set when the bot resolves a phone-only request."""

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return rules


class Away(Strict):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Away:
        if self.to < self.from_:
            raise ValueError("'to' is before 'from'")
        return self


class Agent(Strict):
    languages: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    away: list[Away] = Field(default_factory=list)


class ParticipantRule(Strict):
    """People to keep in the loop: by organization and/or request type (no condition: every ticket)."""

    organization: str | None = None
    request_type: RequestType | None = None
    cc: list[str]

    @field_validator("cc")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for value in values:
            if "@" not in value:
                raise ValueError(f"{value!r} is not an email address")
        return [v.lower() for v in values]


class ServiceDesk(Strict):
    phone: str = "+1 555 0100"
    hours: str = "Monday to Friday, 08:00-18:00"


class Policy(Strict):
    desks: dict[Literal["zendesk", "jira"], DeskOptions] = Field(default_factory=dict)
    staff_domains: list[str] = Field(default_factory=list)
    service_desk: ServiceDesk = Field(default_factory=ServiceDesk)
    triage: Triage = Field(default_factory=Triage)
    agents: dict[str, Agent] = Field(default_factory=dict)
    """Agent email → skills and away dates."""
    participants: list[ParticipantRule] = Field(default_factory=list)
    templates: dict[str, str] = Field(default_factory=dict)
    """Overrides of the customer-facing texts (see `bot/policy/templates.py` for the names)."""

    @field_validator("templates")
    @classmethod
    def _templates(cls, values: dict[str, str]) -> dict[str, str]:
        from bot.policy.templates import DEFAULTS

        env = SandboxedEnvironment()
        for name, text in values.items():
            if name not in DEFAULTS:
                raise ValueError(f"unknown template {name!r} (known: {', '.join(sorted(DEFAULTS))})")
            try:
                env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                raise ValueError(f"template {name!r}: {exc.message} (line {exc.lineno})") from exc
        return values

    @model_validator(mode="after")
    def _references(self) -> Policy:
        """Group and organization names used by rules must exist for every configured desk."""
        assignments = [r.assign for r in self.triage.rules if r.assign] + (
            [self.triage.default.assign] if self.triage.default.assign else []
        )
        for desk, options in self.desks.items():
            for assignment in assignments:
                if assignment.group not in options.groups:
                    raise ValueError(f"group {assignment.group!r} is not in desks.{desk}.groups")
        return self

    @cached_property
    def staff(self) -> frozenset[str]:
        return frozenset(d.lower().lstrip("@") for d in self.staff_domains)

    def desk(self, name: str) -> DeskOptions:
        return self.desks.get(name) or DeskOptions()  # type: ignore[call-overload, unused-ignore]

    def desk_options(self, name: str) -> dict[str, Any]:
        """The adapter's settings for desk `name` (only those set)."""
        options = self.desk(name).model_dump()
        return {k: options[k] for k in ADAPTER_KEYS if options.get(k) is not None}

    def agent(self, email: str | None) -> Agent:
        return self.agents.get((email or "").lower()) or Agent()


def load_policy(path: Path | None) -> Policy:
    """The policy at `path` (or the packaged default); raises `PolicyError` listing every problem."""
    source = path or DEFAULT_POLICY
    policy, problems = _load(source)
    if policy is None:
        raise PolicyError(problems)
    return policy


class PolicyError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def validate_policy_file(path: Path | None) -> list[Problem]:
    """Every problem of the policy file (empty when it is valid), each with `file: key.path`."""
    return _load(path or DEFAULT_POLICY)[1]


def _load(source: Path) -> tuple[Policy | None, list[Problem]]:
    name = str(source)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        return None, [Problem(name, f"cannot read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}: line {mark.line + 1} column {mark.column + 1}" if mark else name
        return None, [Problem(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(data, dict):
        return None, [Problem(name, "the policy must be a mapping of sections (desks, triage, ...)")]
    try:
        return Policy.model_validate(data), []
    except ValidationError as exc:
        return None, [Problem(f"{name}: {_path(err['loc'])}", _message(err)) for err in exc.errors()]


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-after", "function-before")) or part in ("literal", "str", "int"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "literal_error":
        return f"{message} (got {err.get('input')!r})"
    return message
