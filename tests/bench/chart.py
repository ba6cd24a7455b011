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


def plot_sweep_budget(figures: dict[str, Any], path: Path) -> None:
    """Calls the bot's sweep made in the trailing minute, over the sweep, against its share of the budget."""
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    series = figures["bot"]["per_minute_series"]
    ax.plot([t for t, _ in series], [n for _, n in series], "-", color=COLORS["bot"], label="helpdesk-bot sweep")
    ax.axhline(figures["sweep_cap_per_minute"], color="tab:red", linestyle="--", label="sweep share of the budget")
    ax.axhline(figures["budget_per_minute"], color="tab:gray", linestyle=":", label="the desk's whole budget")
    ax.set_xlabel("seconds since the sweep's first call")
    ax.set_ylabel("API calls in the trailing 60 s")
    ax.set_title(
        f"Sweep of {figures['tickets']:,} Zendesk tickets ({figures['due']:,} due): "
        f"{figures['bot_calls']:,} calls in {figures['bot_wall_s']:.0f} s"
    )
    ax.set_ylim(0, figures["budget_per_minute"] * 1.15)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
