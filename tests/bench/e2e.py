"""End-to-end benchmark: a customer opens a ticket → the ticket is assigned with the bot's first response.

Runs `helpdesk-bot sandbox`, `helpdesk-bot web` and one `helpdesk-bot worker`; customers open tickets
through the Zendesk API at a fixed rate (open loop, 20/s by default). Latency runs from the moment the
ticket request is sent to the moment the worker records the event as done (its desk writes finished),
read from the bot's event log so observing adds no desk calls. Afterwards every ticket is read back
through the desk API: assigned, with exactly one public reply from the bot.
Run: `python -m tests.bench.e2e [--rate 20] [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from tests.bench.common import BenchError, emit, percentile, table
from tests.bench.stack import BotStack, bot_stack, call_split, triaged, warm_up

CREATE_ROUTE = "POST /api/v2/requests.json"
TARGETS = {"p50_ms": 100.0, "p99_ms": 300.0}


def open_tickets(stack: BotStack, rate: float, count: int, clients: int = 4) -> list[tuple[str, float, float]]:
    """Open `count` tickets, ticket i due at t0 + i/rate, from a few threads so one slow answer delays no other."""
    out: list[tuple[str, float, float]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    next_index = iter(range(count))
    start = time.perf_counter() + 0.05

    def client() -> None:
        for i in next_index:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                created = stack.create_ticket()
            except BenchError as exc:
                errors.append(exc)
                return
            with lock:
                out.append(created)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchError(str(errors[0]))
    return out


def run(rate: float, seconds: float) -> dict[str, Any]:
    count = max(1, int(rate * seconds))
    with bot_stack() as stack:
        warm_up(stack)
        before = stack.calls()
        created = open_tickets(stack, rate, count)
        done = stack.wait_all([c[0] for c in created], timeout=60 + count / 2)
        reads, writes, by_endpoint = call_split(before, stack.calls(), CREATE_ROUTE)
        desk = stack.desk()
        not_triaged = [tid for tid, _, _ in created if not triaged(desk, tid)]
    total = [(done[tid][1] - sent) * 1000 for tid, sent, _ in created]
    to_intake = [(done[tid][0] - sent) * 1000 for tid, sent, _ in created]
    in_bot = [(done[tid][1] - done[tid][0]) * 1000 for tid, _, _ in created]
    create = [secs * 1000 for _, _, secs in created]
    return {
        "offered_tickets_per_s": rate,
        "tickets": count,
        "not_triaged": len(not_triaged),
        "p50_ms": round(percentile(total, 50), 1),
        "p99_ms": round(percentile(total, 99), 1),
        "max_ms": round(max(total), 1),
        "webhook_arrival_p50_ms": round(percentile(to_intake, 50), 1),
        "webhook_arrival_p99_ms": round(percentile(to_intake, 99), 1),
        "intake_to_done_p50_ms": round(percentile(in_bot, 50), 1),
        "intake_to_done_p99_ms": round(percentile(in_bot, 99), 1),
        "sandbox_create_p50_ms": round(percentile(create, 50), 1),
        "sandbox_create_p99_ms": round(percentile(create, 99), 1),
        "desk_reads_per_ticket": round(reads / count, 2),
        "desk_writes_per_ticket": round(writes / count, 2),
        "desk_calls_by_endpoint": by_endpoint,
    }


def report(f: dict[str, Any]) -> str:
    rows = [
        ["ticket sent → triage done (total)", f["p50_ms"], f["p99_ms"]],
        ["  ticket sent → webhook received by intake", f["webhook_arrival_p50_ms"], f["webhook_arrival_p99_ms"]],
        ["  webhook received → triage done (queue + worker)", f["intake_to_done_p50_ms"], f["intake_to_done_p99_ms"]],
        ["sandbox: customer's POST /api/v2/requests itself", f["sandbox_create_p50_ms"], f["sandbox_create_p99_ms"]],
    ]
    title = (
        f"End to end: {f['tickets']} tickets at {f['offered_tickets_per_s']:g}/s, one worker; "
        f"{f['tickets'] - f['not_triaged']}/{f['tickets']} assigned with one public reply"
    )
    out = table(title, ["stage", "p50 ms", "p99 ms"], rows)
    return (
        f"{out}\n\ndesk API calls per ticket by the bot: {f['desk_reads_per_ticket']:g} reads, "
        f"{f['desk_writes_per_ticket']:g} writes\n"
        f"targets: p50 <= {TARGETS['p50_ms']:g} ms, p99 <= {TARGETS['p99_ms']:g} ms"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=20.0, help="tickets opened per second")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    figures = run(args.rate, args.seconds)
    print(report(figures))
    emit("e2e", figures)
    if figures["not_triaged"]:
        raise BenchError(f"{figures['not_triaged']} tickets were not assigned with one public reply")
    return figures


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"e2e benchmark: {exc}")
