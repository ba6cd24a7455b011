"""Ingest benchmark: signed Zendesk webhooks into three receivers under the same gunicorn setup.

(a) `bot`: the production receiver, `helpdesk-bot web` (verify, parse, dedupe + record + enqueue in
    one Redis script); (b) `bare`: a Flask endpoint answering 202 (the ceiling); (c) `naive`: verify +
    Celery `.delay()` per request (see tests/bench/receivers.py). Each gets open-loop phases at fixed
    offered rates and a `wrk` saturation phase. Run: `python -m tests.bench.ingest [--seconds N]`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bot.web import default_workers
from tests.bench import loadgen
from tests.bench.common import (
    BOT_CLI,
    REDIS_URL,
    SECRET,
    BenchError,
    cleanup_prefix,
    emit,
    free_port,
    new_prefix,
    processes,
    table,
    wait_http,
)

RECEIVERS = ("bot", "bare", "naive")
TARGETS = {"vs_bare": 0.6, "vs_naive": 1.5, "p99_ms_at_500": 25.0}


def receiver_argv(name: str, port: int, workers: int) -> list[str]:
    """(a) is the real CLI; (b) and (c) get gunicorn with the options `bot.web.serve` uses."""
    if name == "bot":
        return [*BOT_CLI, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "30",
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
        f"tests.bench.receivers:{name}()",
    ]


def measure(
    rates: list[float],
    seconds: float,
    saturate_seconds: int,
    receivers: tuple[str, ...],
    warmup: float,
    rounds: int,
    workdir: Path,
    prefix: str,
) -> dict[str, Any]:
    """All receivers run side by side (idle ones cost nothing); every phase is measured `rounds` times,
    rotating the receiver order, so a burst of outside load on the machine hits each receiver alike.
    Each figure is the median over rounds."""
    workers = default_workers()
    env = dict(
        os.environ,
        REDIS_URL=REDIS_URL,
        HELPDESK_BOT_KEY_PREFIX=prefix,
        ZENDESK_URL="http://127.0.0.1:9",
        ZENDESK_EMAIL="bot@example.com",
        ZENDESK_API_TOKEN="unused",
        ZENDESK_WEBHOOK_SECRET=SECRET,
        PYTHONUNBUFFERED="1",
    )
    ports = {name: free_port() for name in receivers}
    paced: dict[str, dict[float, list[loadgen.PhaseResult]]] = {n: {r: [] for r in rates} for n in receivers}
    saturated: dict[str, list[loadgen.PhaseResult]] = {n: [] for n in receivers}
    with processes(workdir) as start:
        procs = {
            name: start(
                f"ingest-{name}",
                receiver_argv(name, ports[name], workers),
                {**env, "HELPDESK_BOT_HOME": str(workdir / name)},
                signal.SIGINT,
            )
            for name in receivers
        }
        for name, proc in procs.items():
            wait_http(proc, f"http://127.0.0.1:{ports[name]}/healthz")
            loadgen.paced(ports[name], SECRET, 200, warmup)  # every gunicorn worker has imported and connected
        for rnd in range(rounds):
            order = receivers[rnd % len(receivers) :] + receivers[: rnd % len(receivers)]
            for rate in rates:
                for name in order:
                    paced[name][rate].append(loadgen.paced(ports[name], SECRET, rate, seconds / rounds))
                    time.sleep(0.2)
            if saturate_seconds > 0:
                for name in order:
                    saturated[name].append(loadgen.saturate(ports[name], SECRET, saturate_seconds, workdir))
        for name, proc in procs.items():
            if not proc.alive():
                raise BenchError(f"{name} receiver died during the run:\n{proc.log_tail()}")
    return {
        name: {
            "workers": workers,
            "paced": [loadgen.median_of(paced[name][rate]).figures() for rate in rates],
            "saturation": loadgen.median_of(saturated[name]).figures() if saturated[name] else None,
        }
        for name in receivers
    }


def run(
    rates: list[float],
    seconds: float,
    saturate_seconds: int,
    receivers: tuple[str, ...] = RECEIVERS,
    warmup: float = 1.0,
    rounds: int = 3,
) -> dict[str, Any]:
    if saturate_seconds > 0 and not loadgen.have_wrk():
        raise BenchError(loadgen.WRK_HINT + " (or pass --saturate-seconds 0 to skip the saturation phase)")
    prefix = new_prefix()
    # A running worker publishes the bot's own desk user ids (tasks/runtime.py); intake caches them. With
    # no worker in this benchmark, publish them as a worker would, so intake runs as in production.
    client = redis.Redis.from_url(REDIS_URL)
    client.sadd(f"{prefix}bot-ids:zendesk", "1")
    client.close()
    load_before = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="hb-bench-") as tmp:
            results = measure(rates, seconds, saturate_seconds, receivers, warmup, rounds, Path(tmp), prefix)
    finally:
        cleanup_prefix(prefix)
    figures: dict[str, Any] = {
        "receivers": results,
        "rates": rates,
        "phase_seconds": seconds,
        "rounds": rounds,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    sat: dict[str, float] = {n: r["saturation"]["rps"] for n, r in results.items() if r["saturation"]}
    for other in ("bare", "naive"):
        if "bot" in sat and other in sat:
            figures[f"bot_vs_{other}"] = round(sat["bot"] / sat[other], 2)
    at500 = [p for p in results.get("bot", {}).get("paced", []) if p["offered_rps"] == 500]
    if at500:
        figures["bot_p99_ms_at_500"] = at500[0]["p99_ms"]
    return figures


def report(figures: dict[str, Any]) -> str:
    rows = []
    for name, res in figures["receivers"].items():
        phases = list(res["paced"]) + ([res["saturation"]] if res["saturation"] else [])
        for p in phases:
            offered = f"{p['offered_rps']:g}" if p["offered_rps"] is not None else "max (wrk)"
            rows.append([name, offered, p["rps"], p["p50_ms"], p["p99_ms"], p["max_ms"], p["errors"], p["requests"]])
    out = table(
        "Ingest: signed Zendesk webhooks, gunicorn sync workers, Redis on loopback",
        ["receiver", "offered req/s", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "requests"],
        rows,
    )
    lines = [out, ""]
    before = figures["loadavg_1m"][0]
    if before > 0.5:
        lines.append(f"note: the machine was busy before the run (1-min load {before:g}); figures are pessimistic")
    if "bot_vs_bare" in figures:
        lines.append(f"bot / bare at saturation:  {figures['bot_vs_bare']:.2f}x  (target >= {TARGETS['vs_bare']}x)")
    if "bot_vs_naive" in figures:
        lines.append(f"bot / naive at saturation: {figures['bot_vs_naive']:.2f}x  (target >= {TARGETS['vs_naive']}x)")
    if "bot_p99_ms_at_500" in figures:
        target = TARGETS["p99_ms_at_500"]
        lines.append(f"bot p99 at 500 req/s:      {figures['bot_p99_ms_at_500']:.1f} ms (target < {target:g} ms)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="100,500,1000", help="offered loads, req/s, comma separated")
    p.add_argument("--seconds", type=float, default=12.0, help="length of each paced phase, over all rounds")
    p.add_argument("--saturate-seconds", type=int, default=5, help="length of each wrk phase; 0 skips them")
    p.add_argument("--rounds", type=int, default=3, help="each phase is repeated; figures are medians")
    p.add_argument("--receivers", default=",".join(RECEIVERS))
    p.add_argument("--warmup", type=float, default=1.0, help="seconds at 200 req/s before measuring")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    figures = run(
        [float(r) for r in args.rates.split(",") if r],
        args.seconds,
        args.saturate_seconds,
        tuple(r for r in args.receivers.split(",") if r),
        args.warmup,
        args.rounds,
    )
    print(report(figures))
    emit("ingest", figures)
    return figures


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"ingest benchmark: {exc}")
