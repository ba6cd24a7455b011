"""Worker benchmark: triage throughput of one `helpdesk-bot worker`, desk calls per ticket, memory.

Customers open a backlog of tickets while no worker runs (intake queues their webhooks); then one
worker starts and drains it. Throughput counts from the first ticket done to the last, so start-up
is excluded. Desk calls come from the sandbox's own request counters; peak RSS (VmHWM) is summed
over each process tree (gunicorn master + workers; Celery main process + pool children).
Run: `python -m tests.bench.worker [--tickets 200] [--concurrency N]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from tests.bench.common import BenchError, cpu_seconds, emit, peak_rss_mib, process_tree, table, wait_for
from tests.bench.stack import bot_stack, call_split, triaged

CREATE_ROUTE = "POST /api/v2/requests.json"
ME_ROUTE = "GET /api/v2/users/me.json"


def run(tickets: int, concurrency: int | None, zendesk: dict[str, Any] | None = None) -> dict[str, Any]:
    with bot_stack(start_worker=False, zendesk=zendesk) as stack:
        ids = [stack.create_ticket()[0] for _ in range(tickets)]
        wait_for(
            lambda: all(stack.log.ticket_event_ids("zendesk", tid) for tid in ids),
            60,
            "intake to queue every ticket's webhook",
        )
        before = stack.calls()
        worker = stack.start_worker(concurrency)
        wait_for(lambda: stack.finished(ids[0]), 60, "the worker to triage its first ticket")
        cpu_before = {name: cpu_seconds(pid) for name, pid in stack.pids(worker).items()}
        done = stack.wait_all(ids, timeout=120 + tickets)
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in stack.pids(worker).items()}
        after = stack.calls()
        reads, writes, by_endpoint = call_split(before, after, CREATE_ROUTE)
        startup_reads = by_endpoint.pop(ME_ROUTE, 0)  # once per worker child when it builds its adapter
        reads -= startup_reads
        web_rss, worker_rss = peak_rss_mib(stack.web.pid), peak_rss_mib(worker.pid)
        web_procs, worker_procs = len(process_tree(stack.web.pid)), len(process_tree(worker.pid))
        desk = stack.desk()
        not_triaged = sum(1 for tid in ids if not triaged(desk, tid))
    finish = sorted(t[1] for t in done.values())
    span = finish[-1] - finish[0]
    used = concurrency or os.cpu_count() or 1
    return {
        "tickets": tickets,
        "concurrency": used,
        "not_triaged": not_triaged,
        "tickets_per_s": round((tickets - 1) / span, 1) if span > 0 else None,
        "desk_reads_per_ticket": round(reads / tickets, 2),
        "desk_writes_per_ticket": round(writes / tickets, 2),
        "desk_calls_by_endpoint": by_endpoint,
        "startup_me_calls": startup_reads,
        "cpu_ms_per_ticket": {name: round(secs * 1000 / (tickets - 1), 2) for name, secs in cpu.items()},
        "web_peak_rss_mib": round(web_rss, 1),
        "web_processes": web_procs,
        "worker_peak_rss_mib": round(worker_rss, 1),
        "worker_processes": worker_procs,
    }


def report(f: dict[str, Any]) -> str:
    note = f.get("triage_note_as_comment") or {}
    rows = [
        ["triaged tickets/s (one worker process)", f["tickets_per_s"]],
        ["desk reads per ticket", f["desk_reads_per_ticket"]],
        ["desk writes per ticket", f["desk_writes_per_ticket"]],
        *(
            [
                [
                    f"desk reads / writes per ticket, triage note as a comment ({note['tickets']} tickets)",
                    f"{note['desk_reads_per_ticket']} / {note['desk_writes_per_ticket']}",
                ]
            ]
            if note
            else []
        ),
        *[[f"CPU ms per ticket, {name}", ms] for name, ms in f["cpu_ms_per_ticket"].items()],
        [f"peak RSS, web ({f['web_processes']} processes), MiB", f["web_peak_rss_mib"]],
        [f"peak RSS, worker ({f['worker_processes']} processes), MiB", f["worker_peak_rss_mib"]],
    ]
    title = (
        f"Worker: backlog of {f['tickets']} tickets, worker concurrency {f['concurrency']}; "
        f"{f['tickets'] - f['not_triaged']}/{f['tickets']} assigned with one public reply"
    )
    calls = ", ".join(f"{k} x{v / f['tickets']:.2f}" for k, v in sorted(f["desk_calls_by_endpoint"].items()))
    return f"{table(title, ['figure', 'value'], rows)}\n\ndesk calls per ticket: {calls}\ntarget: 1 read + 1 write"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickets", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=None, help="worker pool size (default: CPU count)")
    p.add_argument(
        "--compare-tickets",
        type=int,
        default=50,
        help="then a backlog this large with the triage note as an internal comment (no desks.zendesk.audit_field),"
        " the writes per ticket before the note had a field; 0 skips it",
    )
    args = p.parse_args(argv)
    started = time.perf_counter()
    figures = run(args.tickets, args.concurrency)
    if args.compare_tickets:
        compared = run(args.compare_tickets, args.concurrency, zendesk={"audit_field": None})
        figures["triage_note_as_comment"] = {
            k: compared[k] for k in ("tickets", "desk_reads_per_ticket", "desk_writes_per_ticket", "not_triaged")
        }
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(report(figures))
    emit("worker", figures)
    if figures["not_triaged"]:
        raise BenchError(f"{figures['not_triaged']} tickets were not assigned with one public reply")
    return figures


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"worker benchmark: {exc}")
