"""`make bench`: every benchmark in turn, their tables, bench-results/latest.json and docs/latency.png."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench import e2e, ingest, sweep, worker
from tests.bench.chart import plot_ingest, plot_sweep_budget
from tests.bench.common import ROOT, BenchError

BENCHES: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "ingest": ingest.main,
    "e2e": e2e.main,
    "worker": worker.main,
    "sweep": sweep.main,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of: " + ", ".join(BENCHES))
    p.add_argument("--out", type=Path, default=ROOT / "bench-results" / "latest.json")
    p.add_argument("--chart", type=Path, default=ROOT / "docs" / "latency.png")
    p.add_argument("--sweep-chart", type=Path, default=ROOT / "docs" / "sweep-budget.png")
    args = p.parse_args(argv)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
    }
    failed = []
    for name in args.only.split(","):
        print(f"\n== {name} ==", flush=True)
        try:
            results[name] = BENCHES[name]([])
        except BenchError as exc:
            print(f"{name}: not run: {exc}", flush=True)
            results[name] = {"error": str(exc)}
            failed.append(name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.out}")
    if "receivers" in results.get("ingest", {}):
        plot_ingest(results["ingest"], args.chart)
        print(f"wrote {args.chart}")
    if "bot" in results.get("sweep", {}):
        plot_sweep_budget(results["sweep"], args.sweep_chart)
        print(f"wrote {args.sweep_chart}")
    return 1 if failed else 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
