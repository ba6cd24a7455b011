"""What a worker process needs, built once per process: settings, Redis, event log, policy, desks."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import redis

from bot.config import Settings, get_settings
from bot.eventlog import EventLog
from bot.redis_conn import client_for
from connectors.base import DeskConfig, Helpdesk
from tasks.budget import DeskBudget
from tasks.executor import PeopleCache

if TYPE_CHECKING:
    from bot.policy.schema import Policy
    from connectors.chat.webhooks import ChatNotifier
    from connectors.crm.accounts import AccountLookup
    from connectors.feedback.records import FeedbackTarget


class DeskNotConfigured(Exception):
    """An event names a desk the bot has no credentials for: a configuration error, never retried."""


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    eventlog: EventLog
    prefix: str
    people: PeopleCache = field(default_factory=PeopleCache)
    _desks: dict[str, Helpdesk] = field(default_factory=dict)
    _budgets: dict[str, DeskBudget] = field(default_factory=dict)

    @cached_property
    def policy(self) -> Policy:
        from bot.policy.schema import load_policy

        return load_policy(self.settings.helpdesk_bot_policy)

    def budget(self, name: str) -> DeskBudget:
        """The API budget every call of this process to desk `name` passes (one per desk and process)."""
        if name not in self._budgets:
            self._budgets[name] = DeskBudget(self.redis, self.prefix, name, self.policy.desk(name).api_budget)
        return self._budgets[name]

    def desk(self, name: str) -> Helpdesk:
        """The adapter for `name`, built on first use and then shared by every task of this process.

        Building it also publishes the bot's own user id on that desk, which the web process reads
        to recognise (and ignore) webhooks caused by the bot's own writes. Every call it makes is held to
        the desk's API budget, shared in Redis with every other process (`tasks/budget.py`).
        """
        if name not in self._desks:
            url = self.settings.desk_url(name)
            if not url:
                raise DeskNotConfigured(f"{name.upper()}_URL is not set: the bot cannot act on {name} tickets")
            config = DeskConfig(
                url=url,
                email=self.settings.desk_email(name) or "",
                token=self.settings.api_token(name) or "",
                options=self.policy.desk(name),
                gate=self.budget(name),
            )
            adapter: Helpdesk = importlib.import_module(f"connectors.{name}.adapter").build(config)
            me = adapter.me()
            self.redis.sadd(f"{self.prefix}bot-ids:{name}", me.id)
            self._desks[name] = adapter
        return self._desks[name]

    # --- optional services: each is off until its settings (and policy section) are given -------------

    @cached_property
    def accounts(self) -> AccountLookup:
        """Account managers: Salesforce when SALESFORCE_URL is set, then the policy's `crm.account_managers`."""
        from connectors.crm import build
        from connectors.crm.salesforce import SalesforceConfig

        s = self.settings
        salesforce = None
        if s.salesforce_url:
            salesforce = SalesforceConfig(
                url=s.salesforce_url,
                username=s.salesforce_username or "",
                password=s.service_secret("salesforce_password") or "",
                security_token=s.service_secret("salesforce_security_token"),
                consumer_key=s.salesforce_consumer_key,
                consumer_secret=s.service_secret("salesforce_consumer_secret"),
            )
        return build(salesforce, self.policy.crm.account_managers)

    @cached_property
    def feedback(self) -> FeedbackTarget | None:
        """Where feedback is recorded: Aha! when AHA_URL and `feedback.aha` are given, else a Jira project when
        `feedback.jira` is (on the Jira desk), else nowhere."""
        from connectors.feedback.aha import AhaConfig, AhaIdeas
        from connectors.feedback.jira_target import JiraFeedback

        target = self.policy.feedback
        if self.settings.aha_url and target.aha:
            config = AhaConfig(
                self.settings.aha_url,
                self.settings.service_secret("aha_api_key") or "",
                target.aha.product,
                target.aha.tag,
            )
            return AhaIdeas(config)
        if target.jira and self.settings.desk_url("jira"):
            return JiraFeedback(self.desk("jira"), target.jira.project, target.jira.issue_type)
        return None

    @cached_property
    def chat(self) -> ChatNotifier:
        """The chat channels of the policy's `chat.webhooks` (none: posting names an unknown channel)."""
        import requests

        from connectors.chat.webhooks import ChatNotifier
        from connectors.http import Rebase

        session = requests.Session()
        if self.settings.chat_webhook_url:  # the sandbox's chat fake, at the webhooks' own paths
            for scheme in ("https://", "http://"):
                session.mount(scheme, Rebase(self.settings.chat_webhook_url))
        return ChatNotifier(self.policy.chat.webhooks, session=session)


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    settings = get_settings()
    client = client_for(settings.resolved_redis_url())
    prefix = settings.helpdesk_bot_key_prefix
    return Runtime(
        settings=settings,
        redis=client,
        eventlog=EventLog(client, prefix, settings.helpdesk_bot_event_ttl_days),
        prefix=prefix,
    )
