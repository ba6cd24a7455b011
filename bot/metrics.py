"""Prometheus metrics. Counters live in each process (gunicorn multiprocess mode aggregates them);
queue latency is observed by workers, so it is kept in Redis and exported by the web's `/metrics`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from bot.spool import Spool

REQUESTS = Counter("helpdesk_bot_webhook_requests", "Webhook deliveries by desk and outcome", ["desk", "outcome"])
REJECTIONS = Counter("helpdesk_bot_webhook_rejections", "Rejected deliveries by desk and reason", ["desk", "reason"])
INTAKE_SECONDS = Histogram(
    "helpdesk_bot_intake_seconds",
    "Time to answer a webhook",
    ["desk"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def observe_queue_latency(client: redis.Redis, prefix: str, desk: str, seconds: float) -> None:
    """Called by workers when a task starts: seconds between receipt of the webhook and processing."""
    key = f"{prefix}metrics:queue_latency:{desk}"
    pipe = client.pipeline(transaction=False)
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            pipe.hincrby(key, f"le:{bound}", 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", seconds)
    pipe.execute()


DESK_CALL_OUTCOMES = ("sent", "rate_limited", "held")
"""Desk calls by outcome: answered (any status but 429), answered 429 (the desk paused for every worker),
held back by the bot's own API budget or a pause (not sent; the task retries later)."""


def count_desk_call(client: redis.Redis, prefix: str, desk: str, outcome: str) -> None:
    """Called by workers around each desk call (tasks/budget.py); summed over all processes in Redis."""
    client.hincrby(f"{prefix}metrics:desk_calls:{desk}", outcome, 1)


class RedisCollector(Collector):
    """Exports what workers recorded in Redis: queue latency per desk and events by state."""

    def __init__(self, client: redis.Redis, prefix: str, desks: tuple[str, ...]) -> None:
        self.client, self.prefix, self.desks = client, prefix, desks

    def collect(self) -> Iterator[HistogramMetricFamily | GaugeMetricFamily | CounterMetricFamily]:
        hist = HistogramMetricFamily(
            "helpdesk_bot_queue_latency_seconds", "Webhook received -> task started", labels=["desk"]
        )
        calls = CounterMetricFamily(
            "helpdesk_bot_desk_calls", "Desk API calls by outcome: sent, rate_limited, held", labels=["desk", "outcome"]
        )
        try:
            for desk in self.desks:
                raw = self.client.hgetall(f"{self.prefix}metrics:queue_latency:{desk}")
                data = {_text(k): float(v) for k, v in raw.items()}
                buckets = [(str(b), data.get(f"le:{b}", 0.0)) for b in LATENCY_BUCKETS]
                buckets.append(("+Inf", data.get("count", 0.0)))
                hist.add_metric([desk], buckets, data.get("sum", 0.0))
                raw = self.client.hgetall(f"{self.prefix}metrics:desk_calls:{desk}")
                counts = {_text(k): float(v) for k, v in raw.items()}
                for outcome in DESK_CALL_OUTCOMES:
                    calls.add_metric([desk, outcome], counts.get(outcome, 0.0))
        except redis.RedisError:
            return
        yield hist
        yield calls


class SpoolCollector(Collector):
    """Spool depth read from the shared spool file at scrape time, so every gunicorn worker reports the same
    figure (a per-process gauge would not): events waiting for Redis, and entries set aside as unreadable."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth, aside = self.spool.depth(), self.spool.set_aside_count()
        except (OSError, sqlite3.Error):
            return
        yield GaugeMetricFamily(
            "helpdesk_bot_spool_depth", "Events spooled while Redis was down, not yet recorded", depth
        )
        yield GaugeMetricFamily("helpdesk_bot_spool_set_aside", "Spooled entries set aside as unreadable", aside)


def _text(value: bytes | str) -> str:
    """Redis answers bytes or str depending on the client's `decode_responses`."""
    return value.decode() if isinstance(value, bytes) else value
