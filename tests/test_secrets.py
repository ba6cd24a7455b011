"""No secret is stored or printed: the whole pipeline runs with distinctive secrets, then every place the bot
writes or prints is searched for them (process logs, the event log in Redis, the spool file, `rejected --json`,
`events --json`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
import requests

from bot.app import create_app
from bot.eventlog import EventLog, State
from connectors import webhook_module
from connectors.sandboxes import build, point_webhooks
from tests.conftest import TEST_REDIS_URL, BotProcesses, ServedApp, cleanup_prefix, wait_for
from tests.sandbox_helpers import create_ticket
from tests.test_intake import ZD_CREATED, make_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_dump(prefix: str) -> bytes:
    """Every value the bot wrote under its key prefix, whatever the key's type."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    out: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = client.type(key)
        if kind == b"hash":
            out += [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == b"list":
            out += client.lrange(key, 0, -1)
        elif kind == b"zset":
            out += client.zrange(key, 0, -1)
        elif kind == b"set":
            out += list(client.smembers(key))
        elif kind == b"string":
            out.append(client.get(key) or b"")
        out.append(key)
    client.close()
    return b"\n".join(out)


@pytest.mark.e2e
def test_no_secret_appears_in_logs_event_log_spool_or_cli_output(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    webhook_secrets = {"zendesk": f"zdWebhookSecret{tag}", "jira": f"jiraWebhookSecret{tag}"}
    tokens = {"zendesk": f"zdApiToken{tag}", "jira": f"jiraApiToken{tag}"}
    services = {  # Salesforce and Aha! at the sandbox, with credentials as distinctive as the desks'
        "SALESFORCE_PASSWORD": f"sfPassword{tag}",
        "SALESFORCE_SECURITY_TOKEN": f"sfToken{tag}",
        "AHA_API_KEY": f"ahaKey{tag}",
    }
    secrets = [*webhook_secrets.values(), *tokens.values(), *services.values()]
    prefix = f"hbtest:{uuid.uuid4().hex[:10]}:"
    sandbox_app, sandboxes = build(seed=True)
    sandbox = ServedApp(sandbox_app)
    env = {"HELPDESK_BOT_LOG_LEVEL": "DEBUG"}
    for desk in ("zendesk", "jira"):
        upper = desk.upper()
        env |= {
            f"{upper}_URL": sandbox.url,
            f"{upper}_EMAIL": "bot@example.com",
            f"{upper}_API_TOKEN": tokens[desk],
            f"{upper}_WEBHOOK_SECRET": webhook_secrets[desk],
        }
    env |= services | {"SALESFORCE_URL": sandbox.url, "SALESFORCE_USERNAME": "bot@example.com", "AHA_URL": sandbox.url}
    procs = BotProcesses(prefix, tmp_path)
    port = _free_port()
    web = f"http://127.0.0.1:{port}"
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), prefix)
    try:
        procs.start("web", "--port", str(port), "--workers", "2", extra_env=env)
        procs.start("worker", "--concurrency", "1", extra_env=env)
        wait_for(lambda: _answers(f"{web}/healthz"), timeout=30)
        point_webhooks(sandboxes, web, dict(webhook_secrets))

        # The pipeline: customers open tickets, the desks send signed webhooks, the worker acts with the tokens.
        tickets = {
            desk: create_ticket(sandbox.url, desk, "cathy@acme.test", "Cannot log in", "Since this morning.")
            for desk in ("zendesk", "jira")
        }
        # A configuration change (Salesforce is asked for Acme's owner) and feedback (an Aha! idea is made).
        tickets["salesforce"] = create_ticket(sandbox.url, "jira", "cathy@acme.test", "Please enable SSO", "SAML.")
        tickets["aha"] = create_ticket(sandbox.url, "zendesk", "cathy@acme.test", "Feature request: tags", "Tags.")
        for name, ticket in tickets.items():
            desk = {"salesforce": "jira", "aha": "zendesk"}.get(name, name)
            wait_for(lambda d=desk, t=ticket: _done(log, d, t), timeout=60, interval=0.2)
        assert sandboxes["jira"].state.issues[tickets["salesforce"]]["fields"]["assignee"]["accountId"] == "agent-sam"
        assert any(f"helpdesk-bot-zendesk-{tickets['aha']}" in i["tags"] for i in sandboxes["aha"].state.ideas.values())

        # A JSM Automation request the bot cannot read, proven by the secret in its headers: kept, redacted.
        unreadable = requests.post(
            f"{web}/webhooks/jira",
            data=b'{"helpdesk_bot": "1", "event": "comment_added"}',
            headers={
                "Content-Type": "application/json",
                "X-Automation-Webhook-Token": webhook_secrets["jira"],
                "Authorization": f"Bearer {webhook_secrets['jira']}",
                "Cookie": f"session={tokens['zendesk']}",
            },
            timeout=10,
        )
        assert unreadable.status_code == 400

        # A delivery spooled while Redis was down (same home), then drained by the running web process.
        down = create_app(
            make_settings(
                prefix,
                tmp_path,
                redis_url="redis://127.0.0.1:1/0",
                zendesk_webhook_secret=webhook_secrets["zendesk"],
                jira_webhook_secret=webhook_secrets["jira"],
            )
        )
        payload = json.loads(ZD_CREATED.read_text())
        payload.update(id=str(uuid.uuid4()))
        payload["detail"]["id"] = tickets["zendesk"]
        body = json.dumps(payload).encode()
        signed = webhook_module("zendesk").sign(webhook_secrets["zendesk"], body)
        spooled = down.test_client().post(
            "/webhooks/zendesk", data=body, headers={"Content-Type": "application/json", **signed}
        )
        down.extensions["helpdesk_bot_drainer"].stop()
        assert spooled.json["status"] == "spooled"
        wait_for(lambda: log.get(spooled.json["event_id"]), timeout=15)

        cli_env = {**procs.env, **env}
        rejected = _cli(cli_env, "rejected", "--json")
        events = _cli(cli_env, "events", "--json", "--limit", "1000")
        assert '"x-automation-webhook-token": "[redacted]"' in rejected
        assert '"authorization": "[redacted]"' in rejected and '"cookie": "[redacted]"' in rejected
        assert len(events.splitlines()) >= 3
        procs.stop()  # flush and close the logs
        places = {
            "process logs": procs.logs().encode(),
            "event log (Redis)": _redis_dump(prefix),
            "spool": b"".join(p.read_bytes() for p in (tmp_path / "spool").iterdir()),
            "rejected --json": rejected.encode(),
            "events --json": events.encode(),
        }
        assert places["process logs"] and places["spool"]
        leaks = [f"{s} in {where}" for where, text in places.items() for s in secrets if s.encode() in text]
        assert leaks == []
    finally:
        procs.stop()
        sandbox.close()
        cleanup_prefix(prefix)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def _done(log: EventLog, desk: str, ticket: str) -> bool:
    return any(r.state is State.DONE for r in log.records(log.ticket_event_ids(desk, ticket)))


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr
