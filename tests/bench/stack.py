"""The whole bot as a user runs it, for the end-to-end and worker benchmarks.

`helpdesk-bot sandbox` (seeded demo desks, delivering signed webhooks), `helpdesk-bot web` and
`helpdesk-bot worker` processes on loopback, sharing Redis db 11 under a key prefix of their own.
Progress is read from the bot's event log in Redis, so observing does not add desk API calls.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import requests
import yaml

from bot.domain.events import EventKind
from bot.domain.tickets import Visibility
from bot.eventlog import EventLog, State
from bot.policy.schema import DEFAULT_POLICY
from connectors.base import DeskConfig, Helpdesk
from tests.bench.common import (
    BOT_CLI,
    REDIS_URL,
    SECRET,
    BenchError,
    Proc,
    Starter,
    cleanup_prefix,
    free_port,
    new_prefix,
    processes,
    wait_for,
    wait_http,
)
from tests.sandbox_helpers import demo_options

CUSTOMERS = ("cathy@acme.test", "gary@globex.test")
SUBJECTS = (
    ("Production API returns 500 since 10:00", "Every call to /v1/orders fails with 500."),
    ("Invoice shows the wrong VAT rate", "Our March invoice charges 21% instead of 19%."),
    ("Mobile app crashes on login", "The iOS app closes right after I enter my password."),
    ("How do I export my data?", "Is there a way to download all our tickets as CSV?"),
)


@dataclass
class BotStack:
    sandbox_url: str
    sandbox: Proc
    web: Proc
    workers: list[Proc]
    log: EventLog
    env: dict[str, str]
    start: Starter
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create_ticket(self) -> tuple[str, float, float]:
        """Open a ticket as a customer through the desk API: (ticket id, wall-clock send time, request seconds)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        subject, body = SUBJECTS[seq % len(SUBJECTS)]
        sent = time.time()
        started = time.perf_counter()
        resp = requests.post(
            f"{self.sandbox_url}/api/v2/requests.json",
            json={"request": {"subject": f"{subject} (#{seq})", "comment": {"body": body}}},
            auth=(f"{CUSTOMERS[seq % 2]}/token", "x"),
            timeout=10,
        )
        elapsed = time.perf_counter() - started
        if resp.status_code != 201:
            raise BenchError(f"sandbox refused a ticket: {resp.status_code} {resp.text[:300]}")
        return str(resp.json()["request"]["id"]), sent, elapsed

    def finished(self, ticket_id: str) -> tuple[float, float] | None:
        """(webhook received, triage done) wall-clock times of the ticket's creation event, once done."""
        for rec in self.log.records(self.log.ticket_event_ids("zendesk", ticket_id)):
            if rec.event.kind is not EventKind.TICKET_CREATED:
                continue
            if rec.state is State.FAILED:
                raise BenchError(f"triage of ticket {ticket_id} failed: {rec.error}")
            if rec.state is State.DONE:
                return rec.event.received_at.timestamp(), datetime.fromisoformat(rec.updated_at).timestamp()
        return None

    def wait_all(self, ticket_ids: list[str], timeout: float) -> dict[str, tuple[float, float]]:
        """Poll the event log until every ticket's creation event is done."""
        done: dict[str, tuple[float, float]] = {}
        pending = list(ticket_ids)

        def progress() -> bool:
            for tid in list(pending):
                times = self.finished(tid)
                if times:
                    done[tid] = times
                    pending.remove(tid)
            self.check_alive()
            return not pending

        try:
            wait_for(progress, timeout, f"{len(ticket_ids)} tickets to be triaged", interval=0.01)
        except BenchError as exc:
            raise BenchError(f"{exc}: {len(pending)} still pending\n{self.workers[0].log_tail()}") from None
        return done

    def check_alive(self) -> None:
        for proc in [self.web, *self.workers]:
            if not proc.alive():
                raise BenchError(f"{proc.name} exited:\n{proc.log_tail()}")

    def calls(self) -> dict[str, int]:
        """Requests the Zendesk sandbox served so far, by 'METHOD route'."""
        got = requests.get(f"{self.sandbox_url}/_sandbox/zendesk/calls", timeout=10).json()
        return {str(k): int(v) for k, v in got["by_endpoint"].items()}

    def desk(self) -> Helpdesk:
        from connectors.zendesk.adapter import build

        return build(
            DeskConfig(url=self.sandbox_url, email="bot@example.com", token="x", options=demo_options("zendesk"))
        )

    def pids(self, worker: Proc) -> dict[str, int]:
        """Process-tree roots whose CPU a benchmark accounts for."""
        return {"worker": worker.pid, "web": self.web.pid, "sandbox": self.sandbox.pid}

    def start_worker(self, concurrency: int | None = None) -> Proc:
        argv = [*BOT_CLI, "worker"] + (["--concurrency", str(concurrency)] if concurrency else [])
        proc = self.start(f"worker-{len(self.workers)}", argv, self.env, signal.SIGQUIT)
        self.workers.append(proc)
        return proc


def triaged(desk: Helpdesk, ticket_id: str) -> bool:
    """What a user checks: the ticket has an assignee and the bot's public first response."""
    ticket = desk.get_ticket(ticket_id)
    bot_public = [
        c for c in ticket.comments if c.author.email == "bot@example.com" and c.visibility is Visibility.PUBLIC
    ]
    return bool(ticket.assignee_id) and len(bot_public) == 1


def call_split(before: dict[str, int], after: dict[str, int], exclude: str) -> tuple[int, int, dict[str, int]]:
    """(reads, writes, per-endpoint delta) of desk API calls between two snapshots, minus `exclude` route."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v and k != exclude}
    reads = sum(v for k, v in delta.items() if k.startswith("GET "))
    return reads, sum(delta.values()) - reads, delta


@contextmanager
def bot_stack(
    start_worker: bool = True, concurrency: int | None = None, zendesk: dict[str, Any] | None = None
) -> Iterator[BotStack]:
    """Sandbox + web (+ one worker), all `helpdesk-bot` subcommands; Redis keys removed afterwards. `zendesk`
    overrides keys of the policy's `desks.zendesk` section (e.g. `{"audit_field": None}`)."""
    prefix = new_prefix()
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    with tempfile.TemporaryDirectory(prefix="hb-bench-") as tmp:
        # The sandbox sets no rate limit, and the figures are the bot's own throughput: the desk's API budget
        # (default 100 calls/min) is lifted out of reach, as for an account with a large plan.
        policy = yaml.safe_load(DEFAULT_POLICY.read_text())
        policy["desks"]["zendesk"]["api_budget"] = {"per_minute": 100_000}
        policy["desks"]["zendesk"].update(zendesk or {})
        policy_path = Path(tmp) / "policy.yaml"
        policy_path.write_text(yaml.safe_dump(policy))
        env = dict(
            os.environ,
            REDIS_URL=REDIS_URL,
            HELPDESK_BOT_KEY_PREFIX=prefix,
            HELPDESK_BOT_HOME=str(Path(tmp) / "home"),
            ZENDESK_URL=sandbox_url,
            ZENDESK_EMAIL="bot@example.com",
            ZENDESK_API_TOKEN="x",
            ZENDESK_WEBHOOK_SECRET=SECRET,
            HELPDESK_BOT_LOG_LEVEL="WARNING",
            HELPDESK_BOT_POLICY=str(policy_path),
            PYTHONUNBUFFERED="1",
        )
        client = redis.Redis.from_url(REDIS_URL)
        try:
            with processes(Path(tmp)) as start:
                sandbox = start(
                    "sandbox",
                    [*BOT_CLI, "sandbox", "--port", str(sandbox_port), "--bot-url", f"http://127.0.0.1:{web_port}"],
                    env,
                )
                web = start(
                    "web", [*BOT_CLI, "web", "--host", "127.0.0.1", "--port", str(web_port)], env, signal.SIGINT
                )
                wait_http(sandbox, f"{sandbox_url}/_sandbox/health")
                wait_http(web, f"http://127.0.0.1:{web_port}/healthz")
                stack = BotStack(sandbox_url, sandbox, web, [], EventLog(client, prefix), env, start)
                if start_worker:
                    stack.start_worker(concurrency)
                yield stack
        finally:
            client.close()
            cleanup_prefix(prefix)


def warm_up(stack: BotStack, tickets: int = 4) -> None:
    """Triage a few tickets first, so every worker child has imported, connected and built its adapter."""
    ids = [stack.create_ticket()[0] for _ in range(tickets)]
    stack.wait_all(ids, timeout=60)
