"""The desk-scale sweep: 100,000 Zendesk tickets, 20,000 of them due, one sweep; next to a naive sweep.

The sandbox desk runs in this process (seeded straight into its store, no HTTP) and serves the sweep over
HTTP; each sweep runs in a worker process of its own (`--worker`), whose resident memory is measured.

- **bot**: `sweep_desk` as beat runs it (sweep traffic, the desk's API budget `--per-minute` and the policy's
  `sweep_share`): the ladder's cursor search, decisions on search results, `update_many` jobs.
- **naive**: what a sweep without those does: the desk's tickets in search pages of 100, then for each due one
  a read and one write (`PUT /tickets/{id}`). It runs unthrottled (no budget) on a freshly seeded desk: at the
  bot's sweep share it would take hours, which is reported as the time it would need.

Seeded mix (`--tickets`, `--due`): 40 % open or new (not candidates), 20 % solved or closed, 10 % pending but
changed within the hour, 10 % pending with a strike sent today (candidates, not due); the due part is pending
tickets whose last strike was sent on Monday: strike 1 → 2 (40 %), strike 2 → 3 (30 %), strike 3 → resolve
(30 %), spread over three organizations with their own calendars (Berlin, New York, London). The sweep runs as of
Thursday 15:00 UTC, within the business hours of all three. Each ticket's message waits for its slot of the
customer's day (`sweeps.spread`); the bench's `spread_window` is 09:00-10:00, which has passed in all three
zones by then, so every due ticket is written in the one sweep measured (with the shipped 10:00-16:00 window,
the tickets whose slot is later that day would wait for later sweeps). Pings are off: their decision needs each
ticket's comments (see README "Sweeps at desk scale").
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import yaml

from tests.bench.common import REDIS_URL, ROOT, cleanup_prefix, emit, new_prefix, table

NOW = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
"""Thursday 15:00 UTC: 16:00 Berlin, 15:00 London, 10:00 New York, within all three calendars' 09:00-17:00
(a step due outside its customer's hours waits for them, so one sweep sends only where it is daytime)."""
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORGS = {"acme": (401, "Europe/Berlin"), "globex": (402, "America/New_York"), "initech": (403, "Europe/London")}
CUSTOMERS_PER_ORG = 200


def write_policy(path: Path, per_minute: int) -> Path:
    from bot.policy.schema import DEFAULT_POLICY

    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["pings"]["enabled"] = False  # like the SLA escalation sweep, it reads each candidate: not this bench
    data["escalation"]["enabled"] = False
    data["sweeps"] = {"spread": True, "spread_window": "09:00-10:00"}  # every slot has passed at NOW (see above)
    data["desks"]["zendesk"]["organizations"] = {name: str(oid) for name, (oid, _) in ORGS.items()}
    data["desks"]["zendesk"]["api_budget"] = {"per_minute": per_minute, "sweep_share": 0.5, "max_wait_seconds": 60}
    data["calendar"]["organizations"] = {name: {"timezone": zone} for name, (_, zone) in ORGS.items()}
    for rule in data.get("triage", {}).get("rules", []):  # the seeded organizations replace the demo ones
        rule.get("match", {}).pop("organization", None)
    data["participants"] = []
    path.write_text(yaml.safe_dump(data))
    return path


def seed(sandbox: Any, tickets: int, due: int) -> dict[str, int]:
    """The desk described in the module docstring, straight into the sandbox's store."""
    from tests.tasks.test_sweep_scale import record_step

    customers: list[tuple[int, int]] = []
    for oid, _ in ORGS.values():
        sandbox.state.organizations.setdefault(oid, {**sandbox.state.organizations[401], "id": oid, "name": str(oid)})
        for n in range(CUSTOMERS_PER_ORG):
            uid = 10_000 + oid * 1000 + n
            sandbox._user(uid, f"Customer {oid}-{n}", f"c{oid}-{n}@example.test", "end-user", oid)
            customers.append((uid, oid))
    old = "2026-03-02T09:00:00Z"
    recent = (NOW - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    today = ("strike-1", NOW - timedelta(hours=2))
    rest = tickets - due
    plan: list[tuple[str, int, dict[str, Any]]] = [
        ("open", int(rest * 0.5), {"status": "open", "updated_at": old}),
        ("solved", int(rest * 0.25), {"status": "solved", "updated_at": old}),
        ("pending, changed within the hour", int(rest * 0.125), {"status": "pending", "updated_at": recent}),
    ]
    plan.append(
        (
            "pending, strike 1 sent today",
            rest - sum(n for _, n, _ in plan),
            {"status": "pending", "updated_at": old, "tags": ("helpdesk-bot-strike-1",), "step": today},
        )
    )
    for step, share in ((1, 0.4), (2, 0.3), (3, 0.3)):
        count = int(due * share) if step < 3 else due - int(due * 0.4) - int(due * 0.3)
        extra = {"tags": (f"helpdesk-bot-strike-{step}",), "step": (f"strike-{step}", MONDAY)}
        plan.append((f"due: strike {step} sent Monday", count, {"status": "pending", "updated_at": old, **extra}))
    counts: dict[str, int] = {}
    i = 0
    for kind, count, spec in plan:
        counts[kind] = count
        for _ in range(count):
            uid, oid = customers[i % len(customers)]
            i += 1
            step = spec.get("step")
            tid = sandbox.insert_ticket(
                uid,
                f"ticket {i}",
                status=spec["status"],
                tags=spec.get("tags", ()),
                updated_at=spec["updated_at"],
                organization_id=oid,
                comments=_history(step[0]) if step else (),
            )
            if step:  # the field as the step's one update left it: its notes, its marker, whom it greeted
                record_step(sandbox, tid, *step, greet="Customer")
    return counts


def _history(step: str) -> list[tuple[int, str, bool]]:
    """What a ticket whose last step is `step` holds: the agent's question, then each strike's message (the step
    notes are in the follow-up field)."""
    sent = int(step.rsplit("-", 1)[1])
    out: list[tuple[int, str, bool]] = [(101, "Could you send us the log file?", True)]
    out += [(1, f"Hello, we are still waiting for your answer (strike {n}).", True) for n in range(1, sent + 1)]
    return out


# --- the worker process ------------------------------------------------------------------------------------


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """This process's resident memory before the block and its peak during it (MiB; filled in on leaving).

    The peak is the process's own high-water mark (`VmHWM`), restarted from the current RSS on entering
    (`clear_refs` 5), not `ru_maxrss`: Linux carries a parent's peak into a child started by vfork and exec,
    as `subprocess` starts the worker, so `ru_maxrss` would report the bench process's peak, which holds the
    seeded desk (hundreds of MiB at 100,000 tickets), as the worker's."""
    figures = {"rss_before_mib": _status_mib("VmRSS")}
    Path("/proc/self/clear_refs").write_text("5")
    yield figures
    figures["rss_peak_mib"] = _status_mib("VmHWM")


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(mode: str, url: str, prefix: str, policy: Path, home: Path) -> dict[str, Any]:
    """One sweep in this process; its wall time, rows, and memory (RSS before, peak)."""
    from bot.eventlog import EventLog
    from tasks.budget import sweep_calls
    from tasks.runtime import Runtime
    from tests.test_intake import make_settings

    settings = make_settings(
        prefix, home, zendesk_url=url, jira_url=None, redis_url=REDIS_URL, helpdesk_bot_policy=policy
    )
    client = redis.Redis.from_url(REDIS_URL)
    runtime = Runtime(settings=settings, redis=client, eventlog=EventLog(client, prefix), prefix=prefix)
    _warm_up(runtime)
    with measured() as memory, sweep_calls():
        started = time.perf_counter()
        seen, changed = naive_sweep(runtime) if mode == "naive" else bot_sweep(runtime)
        wall = time.perf_counter() - started
    return {"wall_s": wall, "seen": seen, "changed": changed, **memory}


def _warm_up(runtime: Any) -> None:
    """Everything a sweep loads once (modules, the policy, each calendar, the templates), so that the memory
    measured over the sweep is what the sweep holds, not what the process imports on its first ticket."""
    from bot.domain.tickets import Person, Status, Ticket
    from bot.policy.followup import decide_ladder_from_search, marker
    from bot.policy.runbook import Situation
    from tasks import sweeps  # noqa: F401  (imported for its side of the measurement: the sweep's modules)

    desk = runtime.desk("zendesk")
    desk.api.timeout = 120.0  # the in-process sandbox matches a 100,000-ticket export's first page in seconds
    desk.me()  # the bot's own identity: read once when a worker starts, not by the sweep
    for oid, _ in ORGS.values():
        for step in (1, 2, 3):
            ticket = Ticket(
                "zendesk", "1", "s", "d", Status.PENDING, Person("1", "Warm Up"), MONDAY, MONDAY, "v",
                organization_id=str(oid), tags=(f"helpdesk-bot-strike-{step}",),
                followup_state=marker(f"strike-{step}", MONDAY, after="1"),
            )  # fmt: skip
            decide_ladder_from_search(Situation(desk.name, ticket, runtime.policy, NOW))


def bot_sweep(runtime: Any) -> tuple[int, int]:
    from tasks.sweeps import sweep_desk

    seen = changed = 0
    for row in sweep_desk(runtime, "zendesk", NOW, dry_run=False):
        seen += 1
        changed += bool(row.result.writes_sent)
    return seen, changed


def naive_sweep(runtime: Any) -> tuple[int, int]:
    """Every ticket in search pages of 100; each due one read (its comments: the search result has the rest),
    decided, and written with one update: the issue's model of a sweep without bulk writes. A full ticket read
    costs more (ticket, comments, and audits for a waiting ticket), so this is the naive sweep at its cheapest."""
    from bot.domain.tickets import Status, TicketQuery
    from bot.policy.followup import decide_ladder, decide_ladder_from_search
    from bot.policy.runbook import Situation
    from connectors.zendesk import adapter
    from tasks.executor import People, compile_writes

    adapter.EXPORT_PAGE = 100
    desk = runtime.desk("zendesk")
    query = TicketQuery(statuses=tuple(Status))
    seen = changed = 0
    cursor = None
    while True:
        page = desk.search(query, cursor)
        for found in page.tickets:
            seen += 1
            quick = decide_ladder_from_search(Situation("zendesk", found, runtime.policy, NOW))
            if quick is None or not quick.actions:
                continue
            ticket = replace(found, comments=desk._comments(int(found.id), {}))  # the one read: its comments
            verdict = decide_ladder(Situation("zendesk", ticket, runtime.policy, NOW))
            writes = compile_writes(ticket, verdict.actions, People(), atomic=True)
            if writes:
                desk.apply(ticket, writes[0])
                changed += 1
        if page.next_cursor is None:
            return seen, changed
        cursor = page.next_cursor


# --- the benchmark -----------------------------------------------------------------------------------------


def run_one(mode: str, tickets: int, due: int, per_minute: int, home: Path) -> dict[str, Any]:
    from connectors.sandboxes import build
    from tests.conftest import ServedApp

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per call otherwise
    app, fakes = build(seed=True)
    sandbox = fakes["zendesk"]
    started = time.perf_counter()
    mix = seed(sandbox, tickets, due)
    seeding = time.perf_counter() - started
    served = ServedApp(app)
    prefix = new_prefix()
    policy = write_policy(home / f"policy-{mode}.yaml", per_minute)
    sandbox.control.reset()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.sweep", "--worker", mode, served.url, prefix, str(policy), str(home)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{mode} sweep failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        calls = Counter(sandbox.control.calls)
        sweep_calls = list(sandbox.control.arrivals)
        first = next((i for i, a in enumerate(sweep_calls) if "search/export" in a.key), 0)
        arrivals = [a.at for a in sweep_calls[first:]]  # from the sweep's first search (the worker's start-up before)
        states = Counter(t["status"] for t in sandbox.state.tickets.values())
    finally:
        served.close()
        cleanup_prefix(prefix)
    figures.update(
        seed_s=seeding,
        mix=mix,
        calls_by_kind={k: calls[k] for k in sorted(calls)},
        calls=sum(calls.values()),
        per_minute_series=_per_minute(arrivals),
        solved_after=states["solved"],
    )
    return figures


def _per_minute(arrivals: list[float]) -> list[tuple[float, int]]:
    """Calls in the trailing 60 s, sampled every 5 s from the first call (the budget's own moving window)."""
    if not arrivals:
        return []
    start = arrivals[0]
    out: list[tuple[float, int]] = []
    t = 0.0
    end = arrivals[-1] - start
    lo = 0
    hi = 0
    while t <= end + 5:
        while hi < len(arrivals) and arrivals[hi] - start <= t:
            hi += 1
        while lo < hi and arrivals[lo] - start < t - 60:
            lo += 1
        out.append((round(t, 1), hi - lo))
        t += 5
    return out


def run(tickets: int, due: int, per_minute: int, naive: bool) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        home = Path(tmp)
        bot = run_one("bot", tickets, due, per_minute, home)
        other = run_one("naive", tickets, due, 100_000, home) if naive else None
    pages = sum(n for k, n in bot["calls_by_kind"].items() if "search/export" in k)
    target = pages + math.ceil(bot["changed"] / 100) + 5
    cap = int(per_minute * 0.5)
    out: dict[str, Any] = {
        "tickets": tickets,
        "due": due,
        "budget_per_minute": per_minute,
        "sweep_cap_per_minute": cap,
        "bot": bot,
        "bot_calls": bot["calls"],
        "bot_wall_s": bot["wall_s"],
        "bot_rss_growth_mib": bot["rss_peak_mib"] - bot["rss_before_mib"],
        "target_calls": target,
        "peak_calls_per_minute": max((n for _, n in bot["per_minute_series"]), default=0),
    }
    if other is not None:
        out.update(
            naive=other,
            naive_calls=other["calls"],
            naive_wall_s=other["wall_s"],
            naive_rss_growth_mib=other["rss_peak_mib"] - other["rss_before_mib"],
            naive_minutes_at_cap=other["calls"] / cap,
            fewer_calls=other["calls"] / max(1, bot["calls"]),
        )
    return out


def report(f: dict[str, Any]) -> str:
    rows = [
        [
            "bot",
            f["bot_calls"],
            f["bot"]["changed"],
            f["bot_wall_s"],
            f["bot"]["rss_before_mib"],
            f["bot_rss_growth_mib"],
        ]
    ]
    if "naive" in f:
        n = f["naive"]
        rows.append(
            ["naive", f["naive_calls"], n["changed"], f["naive_wall_s"], n["rss_before_mib"], f["naive_rss_growth_mib"]]
        )
    lines = [
        table(
            f"Sweep of {f['tickets']:,} Zendesk tickets, {f['due']:,} due (budget {f['budget_per_minute']}/min, "
            f"sweeps {f['sweep_cap_per_minute']}/min)",
            ["sweep", "API calls", "changed", "wall s", "RSS before MiB", "RSS growth MiB"],
            rows,
        ),
        table("bot: calls by kind", ["endpoint", "calls"], sorted(f["bot"]["calls_by_kind"].items())),
        f"target: calls <= pages + ceil(changed/100) + 5 = {f['target_calls']}; "
        f"peak calls in any minute {f['peak_calls_per_minute']} (cap {f['sweep_cap_per_minute']})",
    ]
    if "naive" in f:
        lines.append(table("naive: calls by kind", ["endpoint", "calls"], sorted(f["naive"]["calls_by_kind"].items())))
        lines.append(
            f"bot makes {f['fewer_calls']:.1f}x fewer calls; naive at the sweep cap would take "
            f"{f['naive_minutes_at_cap']:,.0f} min"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--due", type=int, default=20_000)
    p.add_argument("--per-minute", type=int, default=400, help="the desk's API budget (sweeps get half)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive sweep")
    p.add_argument("--chart", type=Path, default=None, help="draw calls per minute over time to this PNG")
    p.add_argument("--worker", nargs=5, metavar=("MODE", "URL", "PREFIX", "POLICY", "HOME"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        mode, url, prefix, policy, home = args.worker
        print(json.dumps(worker(mode, url, prefix, Path(policy), Path(home))), flush=True)
        return {}
    figures = run(args.tickets, args.due, args.per_minute, naive=not args.no_naive)
    print(report(figures), flush=True)
    if args.chart is not None:
        from tests.bench.chart import plot_sweep_budget

        plot_sweep_budget(figures, args.chart)
        print(f"wrote {args.chart}")
    emit("sweep", {k: v for k, v in figures.items() if k not in ("bot", "naive")})
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)  # the served sandbox's thread is a daemon; leave without waiting on it
