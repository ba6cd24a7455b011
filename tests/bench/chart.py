"""docs/latency.png: ingest latency against offered load for the three receivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"bot": "tab:blue", "bare": "tab:gray", "naive": "tab:red"}
LABELS = {"bot": "helpdesk-bot web", "bare": "bare Flask 202 (ceiling)", "naive": "verify + Celery .delay()"}


def plot_ingest(figures: dict[str, Any], path: Path) -> None:
    """p50 (dashed) and p99 (solid) per offered rate; the dotted vertical line is each receiver's wrk maximum."""
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for name, res in figures["receivers"].items():
        color = COLORS.get(name, "black")
        rates = [p["offered_rps"] for p in res["paced"]]
        ax.plot(rates, [p["p99_ms"] for p in res["paced"]], "o-", color=color, label=f"{LABELS.get(name, name)} p99")
        ax.plot(rates, [p["p50_ms"] for p in res["paced"]], "o--", color=color, alpha=0.6, label="p50")
        if res["saturation"]:
            ax.axvline(res["saturation"]["rps"], color=color, linestyle=":", alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, req/s (dotted: maximum throughput under wrk)")
    ax.set_ylabel("latency from intended send time, ms")
    ax.set_title("Webhook ingest on 2 cores: latency vs offered load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
