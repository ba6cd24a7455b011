"""The policy file: what the bot does, per desk, validated with errors that point at the offending key.

Every section is a pydantic model with unknown keys forbidden, so a typo is an error with its path
(`triage.rules[2].match.regex: ...`, plus the YAML line) instead of a silently ignored setting. With no file
configured, the documented default shipped next to this module (`default.yaml`) is used, so the bot runs out
of the box against the demo desks. Every key is documented in `deploy/policy.example.yaml`.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterator
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config import Problem
from bot.domain.chat import chat_service
from bot.policy.templates import DEFAULTS, OPTIONAL, SAMPLE_VALUES
from connectors.jira.options import JiraOptions
from connectors.zendesk.options import ZendeskOptions

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
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
"""The common priority scale, lowest first; `desks.<desk>.priorities` names each level on the desk."""
JIRA_PRIORITIES: dict[Priority, str] = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Highest"}


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
        raise ValueError(f"{value!r} is not an email address")
    return value.strip().lower()


def _webhook_url(value: str) -> str:
    """An incoming-webhook URL of Slack or Google Chat (never echoed back: the URL is the credential)."""
    if not re.fullmatch(r"https?://[^\s/]+/\S*", value.strip()):
        raise ValueError("not a URL (https://hooks.slack.com/services/..., https://chat.googleapis.com/v1/spaces/...)")
    chat_service(value.strip())  # raises ValueError naming the two shapes it knows
    return value.strip()


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


def _template_name(value: str) -> str:
    if value not in DEFAULTS:
        raise ValueError(f"unknown template {value!r} (known: {', '.join(sorted(DEFAULTS))})")
    return value


def _template_text(value: str) -> str:
    """Parse and trial-render with every documented variable, so a typo fails here, not in a customer mail.

    A second render with the optional variables empty catches texts that only work when an agent was chosen.
    """
    env = SandboxedEnvironment(undefined=StrictUndefined)
    try:
        template = env.from_string(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error: {exc.message} (template line {exc.lineno})") from exc
    try:
        template.render(**SAMPLE_VALUES)
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(SAMPLE_VALUES))
        raise ValueError(f"template uses an unknown variable: {exc.message} (known: {known})") from exc
    except Exception as exc:  # any failure of a user's template is a validation problem
        raise ValueError(f"template cannot be rendered: {exc}") from exc
    try:
        template.render(**{**SAMPLE_VALUES, **dict.fromkeys(OPTIONAL)})
    except Exception as exc:
        empty = ", ".join(OPTIONAL)
        raise ValueError(f"template fails when {empty} are empty (use `or`/`if`): {exc}") from exc
    return value


Email = Annotated[str, AfterValidator(_email)]
Regex = Annotated[str, AfterValidator(_regex)]
TemplateName = Annotated[str, AfterValidator(_template_name)]
TemplateText = Annotated[str, AfterValidator(_template_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApiBudget(Strict):
    """The bot's share of one desk's API rate limit, shared by every worker process and sweep (Redis).

    The default, 100 calls a minute, is half the smallest Zendesk plan (Suite Team: 200/min; Professional
    400, Enterprise 700), because agents' own tools spend the same account quota. Jira Cloud traffic
    authenticated with an API token is held to per-second burst limits, not the hourly points quota, so the
    same default is a conservative start there too.
    """

    per_minute: int = Field(default=100, ge=1, le=100_000)
    """Calls the bot may make to this desk in any 60-second window, all processes together."""
    sweep_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """Part of the window periodic sweeps may use; they stop as soon as the window is that full, so the rest
    is always left for event-driven work (new tickets, replies)."""
    max_wait_seconds: float = Field(default=5.0, ge=0.0, le=60.0)
    """How long a call waits for budget (or for a desk-wide pause to end) before the task is retried later."""


class DeskOptions(Strict):
    """What the policy says about one desk in its own terms: names → the desk's ids, and shadow mode.

    Each desk's section adds its adapter's own typed settings (`connectors/<desk>/options.py`), which the
    adapter receives as they are: see `ZendeskSection` and `JiraSection`.
    """

    shadow: bool = False
    """Decide and record, but write nothing on this desk (see `helpdesk-bot shadow-report`)."""
    api_budget: ApiBudget = Field(default_factory=ApiBudget)
    groups: dict[str, str] = Field(default_factory=dict)
    """Group name used in this file → the desk's group id (Jira: group name)."""
    request_types: dict[RequestType, str] = Field(default_factory=dict)
    """Request type → the value the desk stores (Zendesk: tagger option value; Jira: request type id).
    A request type missing here is stored under its own name."""
    organizations: dict[str, str] = Field(default_factory=dict)
    """Organization name used in this file → the desk's organization id."""
    priorities: dict[Priority, str] = Field(default_factory=lambda: {p: str(p) for p in PRIORITIES})
    """Priority of the common scale (low, normal, high, urgent) → the desk's own name for it (Zendesk's are
    the scale itself; Jira's default is Low, Medium, High, Highest)."""

    def request_type_value(self, request_type: str) -> str:
        """What this desk stores for one of the six request types."""
        return self.request_types.get(request_type, request_type)  # type: ignore[call-overload, no-any-return]

    def priority_level(self, value: str | None) -> int:
        """Where the desk's priority `value` sits on the common scale (0 = low); -1 when it has no level
        (unset, or a name the policy does not map such as Jira's "Lowest"), so any level raises it."""
        names = {name.casefold(): level for level, name in enumerate(self.priorities[p] for p in PRIORITIES)}
        return names.get((value or "").casefold(), -1)


class ZendeskSection(DeskOptions, ZendeskOptions):
    """`desks.zendesk`: the policy's names and the Zendesk adapter's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class JiraSection(DeskOptions, JiraOptions):
    """`desks.jira`: the policy's names and the Jira adapter's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    priorities: dict[Priority, str] = Field(default_factory=lambda: dict(JIRA_PRIORITIES))


class Desks(Strict):
    """`desks`: one section per desk, each validated by its own model (so unknown keys name the desk)."""

    zendesk: ZendeskSection | None = None
    jira: JiraSection | None = None

    def get(self, name: str) -> DeskOptions | None:
        return getattr(self, name, None) if name in type(self).model_fields else None

    def items(self) -> list[tuple[str, DeskOptions]]:
        return [(name, section) for name in type(self).model_fields if (section := getattr(self, name)) is not None]

    def values(self) -> list[DeskOptions]:
        return [section for _, section in self.items()]


class Match(Strict):
    """Conditions of a rule: every condition given must hold; within a list, any value does."""

    keywords: list[str] = Field(default_factory=list)
    """Whole words or phrases, case-insensitive, in the subject or the description."""
    subject_keywords: list[str] = Field(default_factory=list)
    description_keywords: list[str] = Field(default_factory=list)
    regex: Regex | None = None
    """Searched (case-insensitive) in the subject and description joined by a newline."""
    form: list[str] = Field(default_factory=list)
    request_type: list[RequestType] = Field(default_factory=list)
    """The request type the customer picked on the portal or form."""
    tags: list[str] = Field(default_factory=list)
    channel: list[str] = Field(default_factory=list)
    organization: list[str] = Field(default_factory=list)
    """Organization names from `desks.<desk>.organizations` (or raw desk ids)."""

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

    @model_validator(mode="after")
    def _skills_need_strategy(self) -> Assignment:
        if self.strategy == "skills" and not (self.skills and (self.skills.language or self.skills.product)):
            raise ValueError("strategy 'skills' needs skills.language and/or skills.product")
        return self


class Rule(Strict):
    name: str = Field(min_length=1)
    match: Match
    request_type: RequestType
    assign: Assignment | None = None
    shadow: bool = False
    """Decide and record this rule's tickets without writing (on every desk)."""


class Default(Strict):
    request_type: RequestType = "general_inquiry"
    assign: Assignment | None = None


def _display_names() -> dict[Any, str]:
    return {t: t.replace("_", " ").capitalize() for t in REQUEST_TYPES}


class Triage(Strict):
    enabled: bool = True
    request_types: dict[RequestType, str] = Field(default_factory=_display_names)
    """Display names of the six request types, used in texts (`request_type_name`)."""
    rules: list[Rule] = Field(default_factory=list)
    default: Default = Field(default_factory=Default)
    first_response: bool = True
    triage_note: bool = True
    resolution: str = "Done"
    """Resolution set when the bot resolves a phone-only request."""
    phone_only_channels: list[str] = Field(default_factory=lambda: ["email", "web", "portal", "anonymousportal"])
    """Channels of a customer's own written request (Zendesk `via.channel`: `email`, `web` for the web form; JSM:
    `email`, `portal`): only these phone-only requests are answered with the phone instructions and resolved.
    Others (a call an agent logged: Zendesk `voice` or `api`, JSM `jira` or `api`) are triaged and assigned as
    usual, with a note instead."""

    @field_validator("request_types")
    @classmethod
    def _complete(cls, names: dict[str, str]) -> dict[str, str]:
        return {**_display_names(), **names}

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return rules


PingMode = Literal["post", "draft"]
SLA_HOURS = {"urgent": 1.0, "high": 4.0, "normal": 8.0, "low": 24.0}


class Pings(Strict):
    """The ping runbook (`bot/policy/pings.py`): regular updates on open tickets, prompts on quiet pending ones."""

    enabled: bool = False
    open_every_hours: float = Field(default=8.0, gt=0, le=1000)
    """An open ticket without a public agent update for this many business hours is due an SLA update."""
    pending_after_days: int = Field(default=3, ge=1, le=60)
    """A pending ticket without activity for this many business days is due a prompt."""
    mode: PingMode = "draft"
    """`post`: the bot posts the update or prompt; `draft`: an internal note prepares it for the assignee."""
    groups: dict[str, PingMode] = Field(default_factory=dict)
    """Mode per group (names of `desks.<desk>.groups`), over `mode`."""
    request_types: dict[RequestType, PingMode] = Field(default_factory=dict)
    """Mode per request type, over the group's and `mode`."""
    sla_hours: dict[str, float] = Field(default_factory=lambda: dict(SLA_HOURS))
    """Desks without SLA data of their own (Zendesk): business hours from the last public agent update to
    the SLA boundary, by priority (`normal` when the ticket has none)."""
    mood_drop: float = Field(default=0.3, gt=0, le=2)
    """A fall of the customer's mood (VADER compound, -1..1) by this much over their last three comments
    makes the draft suggest raising the priority and adding someone in CC."""

    @field_validator("sla_hours")
    @classmethod
    def _positive(cls, hours: dict[str, float]) -> dict[str, float]:
        for priority, value in hours.items():
            if not 0 < value <= 1000:
                raise ValueError(f"{priority}: {value} is not a number of hours between 0 and 1000")
        return {"normal": 8.0, **hours}


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
    """People to keep in the loop (e.g. an organization's account manager).

    Conditions (organization, domains, request_type) narrow it; with none, everyone listed is added to every ticket.
    """

    organization: str | None = None
    domains: list[str] = Field(default_factory=list)
    """Customer email domains (of the original sender when a colleague forwarded the mail)."""
    request_type: RequestType | None = None
    cc: list[Email] = Field(min_length=1)

    @field_validator("domains")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.lower().lstrip("@") for v in values]


class ServiceDesk(Strict):
    phone: str = "+1 555 0100"
    hours: str = "Monday to Friday, 08:00-18:00"
    department: str = "Service Desk"
    """How agents name their team to customers ("This is Alice from the Service Desk"): follow-up texts."""


class Crm(Strict):
    """Where a customer's account manager comes from: Salesforce (SALESFORCE_* settings), else this map."""

    account_managers: dict[str, Email] = Field(default_factory=dict)
    """Customer email domain (acme.com) or organization name (Acme) → the account manager's email."""

    @field_validator("account_managers")
    @classmethod
    def _keys(cls, values: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower().lstrip("@"): v for k, v in values.items()}


DocumentKind = Literal["template", "spec_sheet", "incentive", "form", "guide", "other"]
DOCUMENT_KINDS: dict[str, str] = {
    "template": "Template",
    "spec_sheet": "Spec sheet",
    "incentive": "Incentive",
    "form": "Form",
    "guide": "Guide",
    "other": "Document",
}


def _document_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
        raise ValueError(f"{value!r} is not a link (https://...)")
    return value.strip()


class Document(Strict):
    """A document a configuration change needs, linked in the ticket's checklist note."""

    title: str = Field(min_length=1)
    url: Annotated[str, AfterValidator(_document_url)]
    kind: DocumentKind = "other"
    """template, spec_sheet, incentive, form, guide or other: how the checklist labels it."""
    match: Match | None = None
    """Only for the configuration changes matching these conditions (as in triage rules); unset: all of them."""


class ConfigChange(Strict):
    """`config_change`: the account-manager hand-off (see `bot/policy/config_change.py`)."""

    enabled: bool = True
    group: str | None = None
    """Group (a name of `desks.<desk>.groups`) the ticket moves to with its account manager; unset: the
    desk decides (Zendesk puts a ticket assigned to an agent in the agent's default group)."""
    documents: list[Document] = Field(default_factory=list)
    """What to collect or send for a configuration change: listed, with links, in an internal checklist note."""


class AhaTarget(Strict):
    product: str = Field(min_length=1)
    """The Aha! product (its key, e.g. APP, or numeric id) that receives feedback as ideas."""
    tag: str = "helpdesk-bot"
    """Tag on every idea the bot records (with a per-ticket tag that makes recording it idempotent)."""


class JiraFeedbackTarget(Strict):
    project: str = Field(min_length=1)
    """Key of the Jira project whose issues hold feedback (a project of its own, not the dev project)."""
    issue_type: str = "Task"


class Feedback(Strict):
    enabled: bool = True
    """Record feedback tickets in the target below (`aha`, else `jira`); with neither, nothing is recorded."""
    aha: AhaTarget | None = None
    """Record feedback as Aha! ideas (needs AHA_URL and AHA_API_KEY)."""
    jira: JiraFeedbackTarget | None = None
    """Record feedback as issues of a Jira project instead (needs JIRA_URL; used when `aha` is not set)."""

    @property
    def records(self) -> bool:
        """Whether feedback tickets are recorded somewhere (then the feedback runbook, not triage, answers them)."""
        return self.enabled and (self.aha is not None or self.jira is not None)


class Chat(Strict):
    """Chat channels the bot posts alerts to, by name: incoming-webhook URLs of Slack or Google Chat."""

    webhooks: dict[str, Annotated[str, AfterValidator(_webhook_url)]] = Field(default_factory=dict)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)")


def _timezone(value: str) -> str:
    """An IANA zone name; a typo gets the closest real name, since `Europe/Berln` is the usual mistake."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (use an IANA name like Europe/Berlin)"
        raise ValueError(f"unknown time zone {value!r}{hint}") from None
    return value


def _hours(value: str) -> str:
    match = _HOURS.fullmatch(value.replace(" ", ""))
    if not match:
        raise ValueError(f"{value!r} is not a range of hours like 09:00-17:00")
    start, end = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
    if end > 24 * 60 or end <= start:
        raise ValueError(f"{value!r}: the end must be after the start, on the same day (at most 24:00)")
    return value.replace(" ", "")


@functools.cache
def _supported_countries() -> dict[str, list[str]]:
    """Country code → subdivision codes of the `holidays` package, imported only when a policy names a country
    (it is the slowest import of the policy, and most deployments of the web process never need it)."""
    import holidays

    return holidays.list_supported_countries()


def _country(value: str) -> str:
    if value.upper() not in _supported_countries():
        raise ValueError(f"no public holidays known for country {value!r} (use an ISO 3166 code like DE, US, FR)")
    return value.upper()


def _workdays(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("at least one working day is needed")
    if len(set(values)) != len(values):
        raise ValueError("a day is listed twice")
    return values


TimeZone = Annotated[str, AfterValidator(_timezone)]
Hours = Annotated[str, AfterValidator(_hours)]
Country = Annotated[str, AfterValidator(_country)]
Workdays = Annotated[list[Weekday], AfterValidator(_workdays)]


def _subdivision_problem(country: str | None, subdivision: str | None) -> str | None:
    if subdivision is None:
        return None
    if country is None:
        return "a subdivision needs a country"
    known = _supported_countries()[country]
    if subdivision not in known:
        return f"unknown subdivision {subdivision!r} of {country} (known: {', '.join(known) or 'none'})"
    return None


class CalendarOverride(Strict):
    """An organization's own calendar: the keys given replace the main calendar's (a new country drops the
    main calendar's subdivision), so a customer in New York needs only `timezone` and `country`."""

    timezone: TimeZone | None = None
    workdays: Workdays | None = None
    hours: Hours | None = None
    country: Country | None = None
    subdivision: str | None = None
    closed: list[date] | None = None


class Calendar(Strict):
    """Business days and hours: when follow-ups may be sent and how "N business days" are counted."""

    timezone: TimeZone = "UTC"
    workdays: Workdays = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    hours: Hours = "09:00-17:00"
    """Working hours on every working day, local time of `timezone` (end up to 24:00)."""
    country: Country | None = None
    """ISO code whose public holidays are days off (from the `holidays` package)."""
    subdivision: str | None = None
    """State, province or region of `country` whose own holidays also apply (e.g. DE: BY)."""
    closed: list[date] = Field(default_factory=list)
    """Further days off (company closures), YYYY-MM-DD."""
    organizations: dict[str, CalendarOverride] = Field(default_factory=dict)
    """Organization name (from `desks.<desk>.organizations`) or desk id → that customer's calendar."""

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        problem = _subdivision_problem(info.data.get("country"), value)
        if problem:
            raise ValueError(problem)
        return value

    def for_organization(self, name: str | None) -> Calendar:
        """This calendar with organization `name`'s override applied (itself when there is none)."""
        override = self.organizations.get(name) if name is not None else None
        if override is None:
            return self
        given = override.model_dump(exclude_none=True)
        if "country" in given and "subdivision" not in given:
            given["subdivision"] = None
        return self.model_copy(update={**given, "organizations": {}})


_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a time of day like 10:00")
    return value.strip()


Clock = Annotated[str, AfterValidator(_clock)]


class LadderMatch(Strict):
    """Which tickets a ladder is for; every condition given must hold, an empty one matches all."""

    desks: list[Literal["zendesk", "jira"]] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    """Group names of `desks.<desk>.groups` (Zendesk: the ticket's group)."""
    request_types: list[RequestType] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    """Organization names of `desks.<desk>.organizations`."""
    tags: list[str] = Field(default_factory=list)
    """Tags (Zendesk) / labels (Jira), any of which the ticket carries (e.g. `awaiting-approval`)."""


class Ladder(Strict):
    """How a ticket waiting on the customer is followed up: `three_strikes` (a reminder on each of three
    consecutive business days, resolved on the fourth) or `quick` (resolved after `quick_days` business days of
    silence, with a note that asks again for the information)."""

    name: str
    match: LadderMatch = Field(default_factory=LadderMatch)
    kind: Literal["three_strikes", "quick", "closing_rules"] = "three_strikes"
    """`closing_rules` (the JSM runbook) sends no reminders: it resolves when the customer ignored
    `followup.closing.ignored_attempts` contact attempts of support (see `FollowUpClosing`)."""
    approval: bool = False
    """Quick ladder only: the information awaited is a third party's approval, so the resolve note says the
    approver has `reopen_days` days to send it, or a new request is needed (template `quick_resolve_approval`)."""


class Exemptions(Strict):
    """Tickets the follow-up ladder never touches (and so never auto-resolves)."""

    request_types: list[RequestType] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    """Tags (Zendesk) / labels (Jira)."""
    organizations: list[str] = Field(default_factory=list)
    """Organization names of `desks.<desk>.organizations` (e.g. VIP accounts)."""
    priorities: list[str] = Field(default_factory=list)
    """Priority names as the desk shows them (case-insensitive): urgent, Highest..."""


class FollowUpChat(Strict):
    """The chat attempt of strike 1: a message to the customer's chat channel (a `chat.webhooks` name, e.g. a
    shared Slack channel), posted only within the customer's working hours; none configured: no chat."""

    channel: str | None = None
    """Channel for every customer without one of its own."""
    organizations: dict[str, str] = Field(default_factory=dict)
    """Organization name (`desks.<desk>.organizations`) or desk id → its channel, over `channel`."""


class FollowUpClosing(Strict):
    """The closing rules of the JSM runbook besides the customer's own confirmation; each resolves with its own
    resolution method, closing comment and internal note."""

    confirmation_days: int = Field(default=1, ge=0)
    """Business days of silence after support asked the customer to confirm ("did that fix it?", "can we close
    this?") before the ticket is resolved as `unconfirmed_resolution`; 0 turns the rule off."""
    unconfirmed_resolution: str = "Done"
    ignored_attempts: int = Field(default=2, ge=1)
    """`closing_rules` ladders: public contact attempts of support (agents and bot) ignored by the customer, the
    last one a business day ago, before the ticket is resolved as `followup.resolution`."""
    dev_bug_priorities: list[str] = Field(default_factory=lambda: ["Low", "Lowest"])
    """A waiting ticket whose only open item is an active linked dev bug of one of these priorities
    (case-insensitive) is resolved as `dev_bug_resolution`; empty turns the rule off."""
    dev_bug_resolution: str = "Known error"


class FollowUp(Strict):
    """Follow-up and auto-resolve (see "Follow-up and auto-resolve" in the README)."""

    enabled: bool = False
    hour: Clock = "10:00"
    """Local time (the customer's calendar) at which reminders go out and tickets are resolved."""
    business_hours_only: bool = True
    """A strike or resolve found due outside the customer's business hours (a sweep at night, a step that fell
    due while the bot was down) waits for their next working moment. False: sent whenever the sweep runs (the
    chat attempt is then skipped outside working hours)."""
    strikes: int = Field(default=3, ge=1, le=3)
    """Reminders before the three-strikes ladder resolves (at most the three of the runbook)."""
    quick_days: int = Field(default=1, ge=1)
    """Business days of silence before the quick ladder resolves."""
    reopen_days: int = Field(default=7, ge=1)
    """Days a resolved request may be reopened by a reply; JSM requests are closed after them."""
    resolution: str = "User not responded"
    """Resolution of a ticket resolved for silence (Jira resolution name; Zendesk closure code field)."""
    confirmed_resolution: str = "Done"
    """Resolution of a ticket the customer confirmed solved."""
    step_notes: Literal["field", "comment"] = "field"
    """Where the ladder's step notes for agents go (what was sent, what is due next, strike 2's call task):
    `field` puts them in the desk's follow-up field (`desks.<desk>.followup_field`), in the same update as the
    customer's message, so a step costs one API call; `comment` adds an internal comment per note (one more
    update each, but agents are notified of the call task). Desks without a follow-up field always get
    comments."""
    waits_on_customer: list[RequestType] = Field(default_factory=lambda: list[RequestType](["technical_support"]))
    """Request types whose first response asks the customer for information: triage leaves them pending."""
    ladders: list[Ladder] = Field(default_factory=list)
    """The first ladder whose `match` holds applies; with none matching, three strikes."""
    exempt: Exemptions = Field(default_factory=Exemptions)
    chat: FollowUpChat = Field(default_factory=FollowUpChat)
    closing: FollowUpClosing = Field(default_factory=FollowUpClosing)

    @field_validator("ladders")
    @classmethod
    def _unique_ladders(cls, ladders: list[Ladder]) -> list[Ladder]:
        names = [ladder.name for ladder in ladders]
        if len(set(names)) != len(names):
            raise ValueError("a ladder name is used twice")
        return ladders


class Bugs(Strict):
    """`bugs`: linked dev bugs (see `bot/policy/linked_bug.py`)."""

    enabled: bool = True
    project: str | None = None
    """Dev project key; unset: `desks.jira.dev_project`."""
    issue_type: str = "Bug"
    auto: list[Match] = Field(default_factory=list)
    """Tickets matching any of these get a bug when they are created (besides the agents' tag and the CLI)."""
    environment_fields: dict[str, str] = Field(default_factory=dict)
    """Label in the bug → the ticket's custom field id whose value to copy (browser, version, plan...)."""
    product_managers: dict[str, Email] = Field(default_factory=dict)
    """Product or component (a ticket tag/label, or a whole word of the subject) → its product manager."""
    default_product_manager: Email | None = None
    """Mentioned when no product matches; unset: the bug gets no mention."""
    wont_fix_resolutions: list[str] = Field(default_factory=lambda: ["Won't Do", "Won't Fix"])
    """Resolutions of a bug that mean it will not be fixed: the ticket gets an internal note only."""


OUTAGE_WORDS = [
    # English
    "outage",
    "down for everyone",
    "service down",
    "site down",
    "site is down",
    "production down",
    "production is down",
    "nobody can",
    "no one can",
    "all users",
    "sev1",
    "sev 1",
    # German
    "Ausfall",
    "Totalausfall",
    "Störung",
    "geht nichts mehr",
    "niemand kann",
    # French
    "panne",
    "panne générale",
    "hors service",
    "indisponible",
    "personne ne peut",
    # Spanish
    "caída",
    "caída del servicio",
    "interrupción del servicio",
    "fuera de servicio",
    "nadie puede",
]
"""Words that mean "it is down for many", matched as whole words in any case, in several languages."""


class RepeatCustomer(Strict):
    """`tickets` or more tickets (this one included) created within `days` days by the same requester or
    organization, counted with the desk's own search."""

    tickets: int = Field(ge=2, le=10_000)
    days: int = Field(ge=1, le=365)
    by: Literal["requester", "organization"] = "requester"


class EscalationWhen(Strict):
    """When a rule holds: every condition given must (an empty `when` is refused)."""

    priorities: list[Priority] = Field(default_factory=list)
    """The ticket's priority is one of these (names of the common scale)."""
    organizations: list[str] = Field(default_factory=list)
    """VIP organizations: names of `desks.<desk>.organizations`."""
    repeat: RepeatCustomer | None = None
    sla_minutes_left: float | None = Field(default=None, gt=0, le=100_000)
    """A running SLA clock breaches within this many minutes (or already has): JSM's own clocks, Zendesk's
    from `pings.sla_hours` in the business calendar. Also checked by a sweep every 15 minutes."""
    outage: bool = False
    """The subject, description or a customer's public reply holds one of `escalation.outage_words`."""
    words: list[str] = Field(default_factory=list)
    """Whole words or phrases of this rule's own (any case), in the same texts."""
    channels: list[str] = Field(default_factory=list)
    """The ticket came in by one of these channels (Zendesk `via.channel`, JSM request channel)."""

    @model_validator(mode="after")
    def _not_empty(self) -> EscalationWhen:
        if not any(getattr(self, name) for name in type(self).model_fields):
            raise ValueError("an escalation rule needs at least one condition")
        return self


class EscalationRule(Strict):
    """What to do, once per ticket, when `when` holds."""

    name: str = Field(min_length=1, max_length=60)
    when: EscalationWhen
    priority: Priority | None = None
    """Raise the priority to at least this level (never lowers it)."""
    move: bool = True
    """Move the ticket to `escalation.group` (to its least-loaded available agent)."""
    alert: bool = True
    """Post to the chat channel `escalation.channel` with the ticket's link."""


class Escalation(Strict):
    """`escalation`: tickets that need immediate attention (see `bot/policy/escalation.py`)."""

    enabled: bool = False
    group: str | None = None
    """The escalation group: a name of `desks.<desk>.groups`. Unset: rules raise and alert but move nothing."""
    channel: str | None = None
    """The chat channel alerts go to: a name of `chat.webhooks`. Unset: no chat alert."""
    outage_words: list[str] = Field(default_factory=lambda: list(OUTAGE_WORDS))
    rules: list[EscalationRule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[EscalationRule]) -> list[EscalationRule]:
        names = [re.sub(r"[^a-z0-9]+", "-", r.name.lower()).strip("-") for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must differ (as tags): {', '.join(twice)}")
        return rules


class Policy(Strict):
    desks: Desks = Field(default_factory=Desks)
    staff_domains: list[str] = Field(default_factory=list)
    """Email domains of your own people: their tickets may be forwarded customer mails."""
    service_desk: ServiceDesk = Field(default_factory=ServiceDesk)
    triage: Triage = Field(default_factory=Triage)
    agents: dict[Email, Agent] = Field(default_factory=dict)
    """Agent email → languages, products and away dates."""
    participants: list[ParticipantRule] = Field(default_factory=list)
    templates: dict[TemplateName, TemplateText] = Field(default_factory=dict)
    """Overrides of the texts (names and defaults in `bot/policy/templates.py`)."""
    crm: Crm = Field(default_factory=Crm)
    feedback: Feedback = Field(default_factory=Feedback)
    """Feedback to Aha! (or a Jira project): see `bot/policy/feedback.py`."""
    config_change: ConfigChange = Field(default_factory=ConfigChange)
    """Configuration changes to the customer's account manager (see `bot/policy/config_change.py`)."""
    chat: Chat = Field(default_factory=Chat)
    calendar: Calendar = Field(default_factory=Calendar)
    """Business days and hours (see `bot/policy/calendar.py`)."""
    followup: FollowUp = Field(default_factory=FollowUp)
    """Follow-up ladders and resolve rules (see `bot/policy/followup.py`)."""

    bugs: Bugs = Field(default_factory=Bugs)
    """Linked dev bugs: when to file one, what goes in it, whom to mention."""
    pings: Pings = Field(default_factory=Pings)
    """SLA updates and prompts (see `bot/policy/pings.py`)."""
    escalation: Escalation = Field(default_factory=Escalation)
    """Escalation rules (see `bot/policy/escalation.py`)."""

    @field_validator("staff_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
                raise ValueError(f"{value!r} is not an email domain (like example.com)")
        return values

    @cached_property
    def staff(self) -> frozenset[str]:
        return frozenset(d.lower().lstrip("@") for d in self.staff_domains)

    def is_staff(self, email: str | None) -> bool:
        return bool(email) and (email or "").rsplit("@", 1)[-1].lower() in self.staff

    def desk(self, name: str) -> DeskOptions:
        """The section of desk `name` (its defaults when the file has none). It is also what the desk's
        adapter receives as `DeskConfig.options`: a section is an instance of the adapter's options model."""
        section = self.desks.get(name)
        if section is not None:
            return section
        default: type[DeskOptions] = ZendeskSection if name == "zendesk" else JiraSection
        return default()

    def shadow(self, desk: str) -> bool:
        return self.desk(desk).shadow

    def agent(self, email: str | None) -> Agent:
        return self.agents.get((email or "").lower()) or Agent()


class PolicyError(Exception):
    """The policy file is unusable; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def load_policy(path: Path | None) -> Policy:
    """The policy at `path` (or the packaged default); raises `PolicyError` listing every problem."""
    policy, problems = _load(path or DEFAULT_POLICY)
    if policy is None or problems:
        raise PolicyError(problems)
    return policy


def validate_policy_file(path: Path | None) -> list[Problem]:
    """Every problem of the policy file (empty when it is valid), each with `file: key.path`."""
    return _load(path or DEFAULT_POLICY)[1]


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as text, so a bad date is a validation problem with a path, not a crash."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load(source: Path) -> tuple[Policy | None, list[Problem]]:
    name = str(source)
    try:
        text = source.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 - _Loader is a SafeLoader
    except OSError as exc:
        return None, [Problem(name, f"cannot read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}: line {mark.line + 1} column {mark.column + 1}" if mark else name
        return None, [Problem(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(data, dict):
        return None, [Problem(name, "the policy must be a mapping of sections (desks, triage, ...)")]
    duplicates = [
        Problem(f"{name}: {_path(loc)}", f"duplicate key: YAML keeps only the last one (line {line})")
        for loc, line in _duplicate_keys(root, ())
    ]
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        return None, duplicates + [_problem(name, root, err) for err in exc.errors()]
    problems = duplicates + [
        Problem(f"{name}: {_path(loc)}", message + _line(root, loc)) for loc, message in _reference_problems(policy)
    ]
    return policy, problems


def _duplicate_keys(node: yaml.Node | None, loc: tuple[int | str, ...]) -> Iterator[tuple[tuple[int | str, ...], int]]:
    """Keys given twice in one mapping: YAML silently keeps the last, which hides a half-edited rule."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen and name != "<<":
                yield (*loc, name), key.start_mark.line + 1
            seen.add(name)
            yield from _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _reference_problems(policy: Policy) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """Names that must resolve against `desks.<desk>`: groups in assignments, organizations in rules."""
    assignments: list[tuple[tuple[int | str, ...], Assignment]] = [
        (("triage", "rules", i, "assign", "group"), r.assign) for i, r in enumerate(policy.triage.rules) if r.assign
    ]
    if policy.triage.default.assign:
        assignments.append((("triage", "default", "assign", "group"), policy.triage.default.assign))
    for desk, options in policy.desks.items():
        for loc, assignment in assignments:
            if assignment.group not in options.groups:
                known = ", ".join(sorted(options.groups)) or "none"
                yield loc, f"group {assignment.group!r} is not in desks.{desk}.groups (known: {known})"
        handoff_group = policy.config_change.group
        if handoff_group and handoff_group not in options.groups:
            known = ", ".join(sorted(options.groups)) or "none"
            yield ("config_change", "group"), f"group {handoff_group!r} is not in desks.{desk}.groups (known: {known})"
    yield from _calendar_problems(policy)
    yield from _followup_problems(policy)
    yield from _escalation_problems(policy)
    organizations = {n for o in policy.desks.values() for n in o.organizations}
    if not organizations:
        return
    for i, rule in enumerate(policy.triage.rules):
        for j, org in enumerate(rule.match.organization):
            if org not in organizations:
                yield ("triage", "rules", i, "match", "organization", j), f"unknown organization {org!r}"
    for i, entry in enumerate(policy.participants):
        if entry.organization and entry.organization not in organizations:
            yield ("participants", i, "organization"), f"unknown organization {entry.organization!r}"


def _calendar_problems(policy: Policy) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """Organization calendars: a known organization (name or desk id), and a subdivision of the country
    the merged calendar ends up with (an override may change the country and inherit the subdivision)."""
    known = {n for o in policy.desks.values() for n in o.organizations} | {
        i for o in policy.desks.values() for i in o.organizations.values()
    }
    for name in policy.calendar.organizations:
        if known and name not in known:
            yield ("calendar", "organizations", name), f"unknown organization {name!r}"
        merged = policy.calendar.for_organization(name)
        problem = _subdivision_problem(merged.country, merged.subdivision)
        if problem:
            yield ("calendar", "organizations", name, "subdivision"), problem


def _followup_problems(policy: Policy) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """Group and organization names of the follow-up section must be ones `desks` defines, its chat channels ones
    `chat.webhooks` defines."""
    groups = {n for o in policy.desks.values() for n in o.groups}
    organizations = {n for o in policy.desks.values() for n in o.organizations}
    for i, ladder in enumerate(policy.followup.ladders):
        for j, group in enumerate(ladder.match.groups):
            if group not in groups:
                yield ("followup", "ladders", i, "match", "groups", j), f"unknown group {group!r}"
        for j, org in enumerate(ladder.match.organizations):
            if org not in organizations:
                yield ("followup", "ladders", i, "match", "organizations", j), f"unknown organization {org!r}"
    for j, org in enumerate(policy.followup.exempt.organizations):
        if org not in organizations:
            yield ("followup", "exempt", "organizations", j), f"unknown organization {org!r}"
    chat = policy.followup.chat
    channels: list[tuple[tuple[int | str, ...], str]] = [(("channel",), chat.channel)] if chat.channel else []
    channels += [(("organizations", org), channel) for org, channel in chat.organizations.items()]
    for where, channel in channels:
        if channel not in policy.chat.webhooks:
            known = ", ".join(sorted(policy.chat.webhooks)) or "none"
            yield ("followup", "chat", *where), f"unknown chat channel {channel!r} (chat.webhooks has: {known})"


def _escalation_problems(policy: Policy) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """The escalation group, the alert channel and VIP organizations must be ones the file defines."""
    section = policy.escalation
    for desk, options in policy.desks.items():
        if section.group and section.group not in options.groups:
            known = ", ".join(sorted(options.groups)) or "none"
            yield ("escalation", "group"), f"group {section.group!r} is not in desks.{desk}.groups (known: {known})"
    if section.channel and section.channel not in policy.chat.webhooks:
        known = ", ".join(sorted(policy.chat.webhooks)) or "none"
        yield ("escalation", "channel"), f"channel {section.channel!r} is not in chat.webhooks (known: {known})"
    organizations = {n for o in policy.desks.values() for n in o.organizations}
    for i, rule in enumerate(section.rules):
        for j, org in enumerate(rule.when.organizations):
            if organizations and org not in organizations:
                yield ("escalation", "rules", i, "when", "organizations", j), f"unknown organization {org!r}"


def _problem(name: str, root: yaml.Node | None, err: Any) -> Problem:
    loc = tuple(err["loc"])
    return Problem(f"{name}: {_path(loc)}", _message(err) + _line(root, loc))


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]" or part.startswith(("function-", "literal[")) or part in ("str", "int", "float"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_NOUNS = {"request_type": "request type", "request_types": "request type", "strategy": "strategy", "desks": "desk"}


def _message(err: Any) -> str:
    loc = [p for p in err["loc"] if isinstance(p, str) and not p.startswith(("function-", "literal["))]
    kind = err["type"]
    if kind == "extra_forbidden":
        if len(loc) == 2 and loc[0] == "desks":
            return f"unknown desk {loc[1]!r}: expected 'zendesk' or 'jira'"
        return "unknown key" + _did_you_mean(loc)
    if kind == "missing":
        return "required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        field = loc[-2] if loc and loc[-1] == "[key]" and len(loc) > 1 else (loc[-1] if loc else "")
        if field not in _NOUNS and len(loc) > 2 and loc[-1] == "[key]":
            field = loc[-3]
        noun = _NOUNS.get(field, "value")
        return f"unknown {noun} {err.get('input')!r}: {message.replace('Input should be', 'expected')}"
    if kind.startswith("date"):
        return f"not a date (YYYY-MM-DD): {err.get('input')!r}"
    return message


def _did_you_mean(loc: list[str]) -> str:
    """Suggest the closest known key, since most unknown keys are typos."""
    if not loc:
        return ""
    model: type[BaseModel] | None = Policy
    for part in loc[:-1]:
        fields = model.model_fields if model else {}
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is not None:
            model = _model_in(info.annotation)
        # else `part` is a key of a mapping (an agent's email, an organization): its values keep the model
    if model is None:
        return ""
    known = [f.alias or k for k, f in model.model_fields.items()]
    close = difflib.get_close_matches(loc[-1], known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds, directly or as the values of a list/dict/optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ())):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> str:
    """ " (line N)" of the YAML node at `loc`, or of its nearest existing parent (for a missing key)."""
    node, line = root, None
    for index, part in enumerate(loc):
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                continue  # a wrapper part ("[key]", "function-after[...]") or a missing key
            node = hit[0] if index == len(loc) - 1 else hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        elif isinstance(part, int):
            break
    if node is not None:
        line = node.start_mark.line + 1
    return f" (line {line})" if line else ""
