"""Salesforce, Aha! and chat are optional: the bot runs without them, and half a configuration is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from bot.checks import all_problems
from bot.config import Settings, settings_problems
from bot.eventlog import EventLog
from bot.runner import sandbox_services_env
from connectors.crm.salesforce import SalesforceConfig
from connectors.crm.sandbox import SalesforceSandbox
from connectors.feedback.aha import AhaConfig, AhaIdeas
from connectors.feedback.jira_target import JiraFeedback
from connectors.sandbox_kit import make_app
from tasks.runtime import Runtime
from tests.conftest import TEST_REDIS_URL, ServedApp

POLICY = """
crm:
  account_managers: {"@Initech.test": ian@example.com, Globex: gus@example.com}
feedback:
  aha: {product: APP}
chat:
  webhooks: {alerts: "https://hooks.slack.com/services/T0/B0/abc"}
"""


def runtime(tmp_path: Path, policy: str | None = POLICY, **env: Any) -> Runtime:
    path = None
    if policy is not None:
        path = tmp_path / "policy.yaml"
        path.write_text(policy)
    settings = Settings(helpdesk_bot_policy=path, helpdesk_bot_home=tmp_path, **env)
    client = redis.Redis.from_url(TEST_REDIS_URL)
    return Runtime(settings=settings, redis=client, eventlog=EventLog(client, "hbtest:unused:"), prefix="hbtest:x:")


def test_without_settings_the_policy_alone_answers_and_nothing_is_recorded(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    account = rt.accounts.find_account(email="bob@initech.test")
    assert account is not None and (account.owner_email, account.source) == ("ian@example.com", "policy")
    assert rt.accounts.find_account(organization="globex").owner_email == "gus@example.com"  # type: ignore[union-attr]
    assert rt.accounts.find_account(email="cathy@acme.test") is None
    assert rt.feedback is None  # no AHA_URL, no feedback.jira
    assert set(rt.chat.webhooks) == {"alerts"}
    assert runtime(tmp_path, policy=None).feedback is None


def test_with_salesforce_configured_its_owner_comes_first(tmp_path: Path, serve: type[ServedApp]) -> None:
    sandbox = SalesforceSandbox()
    sandbox.reset(seed=True)
    url = serve(make_app([sandbox.blueprints()])).url
    rt = runtime(
        tmp_path, salesforce_url=url, salesforce_username="bot@example.com", salesforce_password="p",
        salesforce_security_token="t",
    )  # fmt: skip
    assert rt.accounts.find_account(organization="Globex").owner_email == "gina@example.com"  # type: ignore[union-attr]
    assert rt.accounts.find_account(email="x@initech.test").source == "policy"  # type: ignore[union-attr]


def test_with_aha_configured_ideas_go_to_the_policy_s_product(tmp_path: Path) -> None:
    rt = runtime(tmp_path, aha_url="https://acme.aha.io", aha_api_key="k")
    assert isinstance(rt.feedback, AhaIdeas) and rt.feedback.config.product == "APP"


def test_a_jira_project_records_feedback_when_aha_is_not_configured(tmp_path: Path) -> None:
    rt = runtime(tmp_path, "feedback:\n  jira: {project: FEED}\n", jira_url="https://acme.atlassian.net")
    rt._desks["jira"] = object()  # type: ignore[assignment]  # the desk is not called: only handed over
    assert isinstance(rt.feedback, JiraFeedback) and (rt.feedback.project, rt.feedback.issue_type) == ("FEED", "Task")
    assert runtime(tmp_path, "feedback:\n  jira: {project: FEED}\n").feedback is None  # no JIRA_URL


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"salesforce_url": "https://login.salesforce.com"}, "SALESFORCE_USERNAME"),
        (
            {"salesforce_url": "https://login.salesforce.com", "salesforce_username": "u", "salesforce_password": "p"},
            "SALESFORCE_SECURITY_TOKEN",
        ),
        ({"salesforce_url": "login.salesforce.com", "salesforce_username": "u", "salesforce_password": "p"}, "URL"),
        ({"aha_url": "https://acme.aha.io"}, "AHA_API_KEY"),
    ],
)
def test_half_a_service_configuration_is_a_problem(env: dict[str, str], where: str) -> None:
    problems = [str(p) for p in settings_problems(Settings(**env))]
    assert any(where in p for p in problems), problems


def test_a_connected_app_needs_no_security_token() -> None:
    env = {"salesforce_username": "u", "salesforce_password": "p", "salesforce_consumer_key": "k"}
    oauth = Settings(salesforce_url="https://acme.my.salesforce.com", salesforce_consumer_secret="s", **env)
    assert [p for p in settings_problems(oauth) if "SALESFORCE" in p.where] == []


def test_aha_without_a_product_in_the_policy_is_reported_by_check_config(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("staff_domains: [example.com]\n")
    settings = Settings(helpdesk_bot_policy=path, aha_url="https://acme.aha.io", aha_api_key="k")
    assert all_problems(settings) == [f"{path}: feedback.aha.product: required when AHA_URL is set"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chat:\n  webhooks: {alerts: 'https://example.com/hook'}\n", "chat.webhooks.alerts"),
        ("crm:\n  account_managers: {acme.test: not-an-email}\n", "crm.account_managers"),
        ("feedback:\n  aha: {product: ''}\n", "feedback.aha.product"),
    ],
)
def test_policy_sections_of_the_services_are_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    problems = all_problems(Settings(helpdesk_bot_policy=path))
    assert any(message in p for p in problems), problems


def test_up_points_only_the_unset_services_at_the_sandbox() -> None:
    sandbox = "http://127.0.0.1:8001"
    env = sandbox_services_env(Settings(aha_url="https://acme.aha.io", aha_api_key="k"), sandbox)
    assert env["SALESFORCE_URL"] == sandbox and env["CHAT_WEBHOOK_URL"] == sandbox
    assert "AHA_URL" not in env and "AHA_API_KEY" not in env  # a real Aha! account stays the one used
    assert sandbox_services_env(Settings(salesforce_url="https://login.salesforce.com"), sandbox)["AHA_URL"] == sandbox


def test_up_leaves_aha_unset_when_the_policy_records_feedback_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("feedback:\n  jira: {project: FEED}\n")
    env = sandbox_services_env(Settings(helpdesk_bot_policy=path), "http://127.0.0.1:8001")
    assert "AHA_URL" not in env and "SALESFORCE_URL" in env  # AHA_URL without feedback.aha would be an error


def test_service_credentials_are_secrets_in_every_repr() -> None:
    values = {"salesforce_password": "pw-1", "salesforce_security_token": "tok-2", "aha_api_key": "key-3"}
    settings = Settings(salesforce_consumer_secret="cs-4", **values)
    config = SalesforceConfig("https://login.salesforce.com", "u", "pw-1", "tok-2", "ck", "cs-4")
    shown = repr(settings) + str(settings) + repr(config) + repr(AhaConfig("https://a.aha.io", "key-3", "APP"))
    assert not [v for v in ("pw-1", "tok-2", "key-3", "cs-4") if v in shown]
    assert settings.service_secret("aha_api_key") == "key-3"  # revealed only where the client is built
