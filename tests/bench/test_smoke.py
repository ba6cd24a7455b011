"""Every benchmark script still runs end to end, with a tiny load (figures are not asserted: CI is noisy).

Each script runs as `make bench` runs it, in its own process, and must exit 0 and print its one
`BENCH <name> {json}` line with the figures the README quotes. They run side by side to stay fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.bench.common import ROOT

WRK = shutil.which("wrk") is not None  # without wrk the ingest script skips only its saturation phase
SMOKE_ARGS = {
    "ingest": [
        "--rates",
        "50",
        "--seconds",
        "0.3",
        "--warmup",
        "0.2",
        "--rounds",
        "1",
        "--saturate-seconds",
        "1" if WRK else "0",
    ],
    "e2e": ["--rate", "20", "--seconds", "0.3"],
    "worker": ["--tickets", "4", "--compare-tickets", "2"],
    "sweep": ["--tickets", "300", "--due", "60", "--per-minute", "100000"],
}
EXPECTED_KEYS = {
    "ingest": {"receivers", "bot_vs_naive"} if WRK else {"receivers"},
    "e2e": {"p50_ms", "p99_ms", "desk_reads_per_ticket", "desk_writes_per_ticket"},
    "worker": {
        "tickets_per_s",
        "desk_reads_per_ticket",
        "web_peak_rss_mib",
        "worker_peak_rss_mib",
        "triage_note_as_comment",
    },
    "sweep": {"bot_calls", "naive_calls", "target_calls", "bot_rss_growth_mib", "peak_calls_per_minute"},
}


@pytest.mark.soak  # `make soak`: half a minute, run by CI after `make test`
def test_every_benchmark_runs_with_a_tiny_load() -> None:
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"tests.bench.{name}", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in SMOKE_ARGS.items()
    }
    outputs = {name: proc.communicate(timeout=120)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} benchmark failed:\n{outputs[name][-4000:]}"
        lines = [line for line in outputs[name].splitlines() if line.startswith(f"BENCH {name} ")]
        assert len(lines) == 1, outputs[name][-4000:]
        figures = json.loads(lines[0].removeprefix(f"BENCH {name} "))
        assert EXPECTED_KEYS[name] <= figures.keys(), figures
    receivers = json.loads(
        next(line for line in outputs["ingest"].splitlines() if line.startswith("BENCH ingest ")).split(" ", 2)[2]
    )["receivers"]
    assert set(receivers) == {"bot", "bare", "naive"}
    assert all(phase["errors"] == 0 for r in receivers.values() for phase in r["paced"])
