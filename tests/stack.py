"""A running bot against the sandbox desks, for end-to-end tests: sandbox, intake web app, real workers."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import yaml
from pydantic import SecretStr

from bot.app import create_app
from bot.eventlog import EventLog, State
from bot.policy.schema import DEFAULT_POLICY
from bot.runner import sandbox_services_env
from connectors.base import DeskConfig, Helpdesk
from connectors.sandbox_kit import Sandbox
from connectors.sandboxes import build, point_webhooks
from tests.conftest import TEST_REDIS_URL, BotProcesses, ServedApp, cleanup_prefix, wait_for
from tests.sandbox_helpers import demo_options
from tests.test_intake import make_settings

SECRETS = {"zendesk": "zd-e2e-secret", "jira": "jira-e2e-secret"}


@dataclass
class Stack:
    sandbox_url: str
    sandboxes: dict[str, Sandbox]
    log: EventLog
    worker: BotProcesses
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`helpdesk-bot ARGS` as an operator runs it beside the worker (same Redis, desks and secrets)."""
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env={**self.worker.env, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def desk(self, name: str) -> Helpdesk:
        adapter = importlib.import_module(f"connectors.{name}.adapter")
        config = DeskConfig(url=self.sandbox_url, email="bot@example.com", token="x", options=demo_options(name))
        return adapter.build(config)  # type: ignore[no-any-return]

    def settled(self, desk: str, ticket_id: str, timeout: float = 60) -> None:
        """Wait until every event of the ticket finished (the echoes of the bot's own writes included), so a
        sweep or replay that follows does not find the ticket's lock held."""

        def done() -> bool:
            records = self.log.records(self.log.ticket_event_ids(desk, ticket_id))
            return all(r.state in (State.DONE, State.FAILED, State.IGNORED) for r in records)

        wait_for(done, timeout=timeout, interval=0.2)


def policy_with_budgets(home: Path, budgets: dict[str, dict[str, float]]) -> dict[str, str]:
    """The packaged default policy with these `desks.<desk>.api_budget` settings, as the workers' environment."""
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    for desk, budget in budgets.items():
        policy["desks"][desk]["api_budget"] = budget
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return {"HELPDESK_BOT_POLICY": str(path)}


@contextmanager
def running_stack(
    home: Path,
    workers: int = 1,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    jira_mode: str = "cloud",
    services: bool = True,
) -> Iterator[Stack]:
    """Seeded sandbox desks → signed webhooks → the real intake → `workers` real worker processes.
    `jira_mode` picks the Jira deployment the sandbox fakes (the policy must say the same). With `services`,
    Salesforce, Aha! and the chat webhooks are the sandbox's too, as `helpdesk-bot up` sets them."""
    prefix = f"hbtest:{uuid.uuid4().hex[:10]}:"
    app, sandboxes = build(seed=True, jira_mode=jira_mode)
    sandbox = ServedApp(app)
    settings = make_settings(prefix, home).model_copy(
        update={
            "zendesk_url": sandbox.url,
            "jira_url": sandbox.url,
            "zendesk_webhook_secret": SecretStr(SECRETS["zendesk"]),
            "jira_webhook_secret": SecretStr(SECRETS["jira"]),
        }
    )
    web = ServedApp(create_app(settings))
    point_webhooks(sandboxes, web.url, SECRETS)
    procs = BotProcesses(prefix, home)
    policy = (extra_env or {}).get("HELPDESK_BOT_POLICY")
    workers_settings = settings.model_copy(update={"helpdesk_bot_policy": Path(policy) if policy else None})
    env: dict[str, str] = sandbox_services_env(workers_settings, sandbox.url) if services else {}
    env.update(extra_env or {})
    for desk in ("zendesk", "jira"):
        upper = desk.upper()
        env.update(
            {
                f"{upper}_URL": sandbox.url,
                f"{upper}_EMAIL": "bot@example.com",
                f"{upper}_API_TOKEN": "x",
                f"{upper}_WEBHOOK_SECRET": SECRETS[desk],
            }
        )
    for _ in range(workers):
        procs.start("worker", "--concurrency", str(concurrency), extra_env=env)
    try:
        yield Stack(sandbox.url, sandboxes, EventLog(redis.Redis.from_url(TEST_REDIS_URL), prefix), procs, env)
    finally:
        procs.stop()
        web.close()
        sandbox.close()
        cleanup_prefix(prefix)
