"""Process settings from the environment (DESIGN.md "Environment"), validated once at start-up.

Secrets and URLs come from the environment so they never sit in the policy file; what the bot should
*do* lives in the policy file (`bot/policy/`). Tokens and webhook secrets are `SecretStr`: a settings object
that ends up in a log line, a traceback or a repr shows `**********`, and the clear text is only taken out
(`webhook_secret()`, `api_token()`) where a signature is checked or a desk client is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import stackfile

DESKS = ("zendesk", "jira")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    redis_url: str | None = None
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_webhook_secret: SecretStr | None = None
    salesforce_url: str | None = None
    """Salesforce login URL (https://login.salesforce.com, https://test.salesforce.com, a My Domain) or the
    sandbox's address; unset: account managers come from the policy's `crm.account_managers` only."""
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_consumer_key: str | None = None
    salesforce_consumer_secret: SecretStr | None = None
    aha_url: str | None = None
    """https://<account>.aha.io (or the sandbox's address); unset: feedback is not recorded in Aha!."""
    aha_api_key: SecretStr | None = None
    chat_webhook_url: str | None = None
    """Send every chat webhook of the policy to this address instead, path and query kept (the sandbox's
    chat fake: `up` sets it when it runs the sandbox); unset: to the webhooks' own URLs."""
    helpdesk_bot_policy: Path | None = None
    helpdesk_bot_home: Path = Path(".helpdesk-bot")
    helpdesk_bot_max_body_bytes: int = Field(default=1_000_000, gt=0)
    """Largest webhook body accepted; real ticket payloads are a few KB, so 1 MB leaves ample room."""
    helpdesk_bot_signature_tolerance: int = Field(default=300, gt=0)
    """Seconds a Zendesk signature timestamp may differ from our clock (replay window)."""
    helpdesk_bot_event_ttl_days: int = Field(default=30, gt=0)
    """How long events (and so their dedupe keys) are kept; well beyond any sender's retry window."""
    helpdesk_bot_spool_drain_interval: float = Field(default=1.0, gt=0)
    """Seconds between a web process's looks at its spool: events spooled during a Redis outage are
    recorded within about this long (plus one Redis connect timeout) of Redis answering again."""
    helpdesk_bot_log_level: str = "INFO"
    sentry_dsn: SecretStr | None = None
    """Errors also go to Sentry when set (and `sentry-sdk` is installed: the `sentry` extra)."""
    sentry_environment: str | None = None
    helpdesk_bot_key_prefix: str = "hb:"
    """Prefix of every Redis key the bot writes, so several bots (or test runs) can share one Redis."""
    helpdesk_bot_web_workers: int | None = Field(default=None, gt=0)
    """gunicorn workers of `web`; unset: 2 per CPU of the container's CPU limit (bot/web.py)."""
    flower_basic_auth: str | None = None
    """`user:password` (comma-separated for several) that Flower asks for; Flower reads it itself."""
    helpdesk_bot_sweep_seconds: int = Field(default=300, gt=0)
    """How often beat sweeps each desk with the periodic runbooks."""
    helpdesk_bot_runbook_plugins: str = ""
    """Comma-separated modules defining `RUNBOOKS`, run after the packaged ones (tasks/registry.py)."""

    def desk_url(self, desk: str) -> str | None:
        return getattr(self, f"{desk}_url")  # type: ignore[no-any-return]

    def desk_email(self, desk: str) -> str | None:
        return getattr(self, f"{desk}_email")  # type: ignore[no-any-return]

    def webhook_secret(self, desk: str) -> str | None:
        """The desk's webhook secret in clear: only for signing and verifying, never to keep or print."""
        return _reveal(getattr(self, f"{desk}_webhook_secret"))

    def api_token(self, desk: str) -> str | None:
        """The desk's API token in clear: only for the desk's client, never to keep or print."""
        return _reveal(getattr(self, f"{desk}_api_token"))

    def service_secret(self, name: str) -> str | None:
        """A Salesforce or Aha! credential in clear (`salesforce_password`, `aha_api_key`...): only for that
        service's client, never to keep or print."""
        return _reveal(getattr(self, name))

    def enabled_desks(self) -> list[str]:
        """A desk is enabled when the bot is pointed at it (its URL is set)."""
        return [d for d in DESKS if self.desk_url(d)]

    @property
    def redis_socket(self) -> Path:
        """Where `up` runs the embedded Redis when no REDIS_URL is given."""
        return self.helpdesk_bot_home.resolve() / "redis.sock"

    def resolved_redis_url(self) -> str:
        return self.redis_url or f"unix://{self.redis_socket}"


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass(frozen=True)
class Problem:
    """One configuration problem, with where it is: a file and a key path, or an environment variable."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def settings_problems(settings: Settings) -> list[Problem]:
    """Everything wrong with the environment. A missing secret is an error, never "accept unsigned"."""
    problems: list[Problem] = []
    for desk in settings.enabled_desks():
        upper = desk.upper()
        if not settings.webhook_secret(desk):
            problems.append(
                Problem(
                    f"env {upper}_WEBHOOK_SECRET",
                    f"required: {desk} is enabled ({upper}_URL is set) and unsigned webhooks are never accepted",
                )
            )
        for var, value in (("email", settings.desk_email(desk)), ("api_token", settings.api_token(desk))):
            if not value:
                problems.append(
                    Problem(f"env {upper}_{var.upper()}", f"required to call the {desk} API ({upper}_URL is set)")
                )
        url = settings.desk_url(desk) or ""
        if not url.startswith(("http://", "https://")):
            problems.append(Problem(f"env {upper}_URL", f"must start with https:// (got {url!r})"))
    problems += _service_problems(settings)
    if settings.helpdesk_bot_policy is not None and not settings.helpdesk_bot_policy.is_file():
        problems.append(Problem("env HELPDESK_BOT_POLICY", f"no such file: {settings.helpdesk_bot_policy}"))
    return problems


def _service_problems(settings: Settings) -> list[Problem]:
    """The optional services (Salesforce, Aha!): nothing is needed until their URL is set, then all of it."""
    problems: list[Problem] = []
    if settings.salesforce_url:
        for var in ("username", "password"):
            if not getattr(settings, f"salesforce_{var}"):
                problems.append(Problem(f"env SALESFORCE_{var.upper()}", "required to log in (SALESFORCE_URL is set)"))
        oauth = settings.salesforce_consumer_key and settings.salesforce_consumer_secret
        if settings.salesforce_security_token is None and not oauth:
            problems.append(
                Problem(
                    "env SALESFORCE_SECURITY_TOKEN",
                    "required (or SALESFORCE_CONSUMER_KEY and SALESFORCE_CONSUMER_SECRET of a connected app)",
                )
            )
    if settings.aha_url and not settings.aha_api_key:
        problems.append(Problem("env AHA_API_KEY", "required to call Aha! (AHA_URL is set)"))
    for var in ("salesforce_url", "aha_url", "chat_webhook_url"):
        url = getattr(settings, var)
        if url and not url.startswith(("http://", "https://")):
            problems.append(Problem(f"env {var.upper()}", f"must start with https:// (got {url!r})"))
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The environment's settings, completed by what a running `helpdesk-bot up` with the same home
    started (bot/stackfile.py) for every setting the environment leaves unset."""
    settings = Settings()
    running = stackfile.read(settings.helpdesk_bot_home.resolve())
    unset = {k.lower(): v for k, v in running.items() if k.lower() in Settings.model_fields}
    unset = {k: v for k, v in unset.items() if getattr(settings, k) in (None, "")}
    if not unset:
        return settings
    return settings.model_copy(update=Settings.model_validate(unset).model_dump(include=set(unset)))
