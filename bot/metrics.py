"""Prometheus metrics, all served by the web's `/metrics`.

Intake counters live in each web process (gunicorn multiprocess mode aggregates them). What workers
observe (queue latency, task outcomes, desk API calls, stranded-event requeues) is kept in Redis, because
no one scrapes a worker: workers add to Redis hashes (`count`, or `tally` + `flush` once per task, which
costs no extra round trip) and `RedisCollector` exports them with the queue depth and age.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter as Tally
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


WORKER_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "task_outcomes": ("Intake tasks finished, by runbook (event kind handled) and outcome", ("runbook", "outcome")),
    "stranded_requeues": ("Events requeued because the worker holding them died", ()),
}
"""name -> (help, label names); exported as `helpdesk_bot_<name>_total`."""

_SEP = "\x1f"
_pending: Tally[tuple[str, str]] = Tally()
_pending_lock = threading.Lock()


def _counter_key(prefix: str, name: str) -> str:
    return f"{prefix}metrics:counter:{name}"


def count(client: redis.Redis, prefix: str, name: str, labels: tuple[str, ...], n: int = 1) -> None:
    """Add `n` to a worker counter in Redis now."""
    client.hincrby(_counter_key(prefix, name), _SEP.join(labels), n)


def tally(name: str, labels: tuple[str, ...], n: int = 1) -> None:
    """Add `n` to a worker counter in this process; written to Redis by the next `flush`."""
    with _pending_lock:
        _pending[(name, _SEP.join(labels))] += n


def flush(client: redis.Redis, prefix: str) -> None:
    """Write what `tally` gathered (one pipelined round trip); kept for the next flush if Redis fails."""
    with _pending_lock:
        items = list(_pending.items())
        _pending.clear()
    if not items:
        return
    pipe = client.pipeline(transaction=False)
    for (name, field), n in items:
        pipe.hincrby(_counter_key(prefix, name), field, n)
    try:
        pipe.execute()
    except redis.RedisError:
        with _pending_lock:
            _pending.update(dict(items))
        raise


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
    """Exports what workers recorded in Redis, and the queue's depth and age as Redis has them now."""

    def __init__(self, client: redis.Redis, prefix: str, desks: tuple[str, ...], queues: tuple[str, ...] = ()) -> None:
        self.client, self.prefix, self.desks, self.queues = client, prefix, desks, queues

    def collect(self) -> Iterator[HistogramMetricFamily | GaugeMetricFamily | CounterMetricFamily]:
        try:
            yield from self._counters()
            yield from self._queues()
        except redis.RedisError:
            return
        yield from self._per_desk()

    def _counters(self) -> Iterator[CounterMetricFamily]:
        for name, (text, labels) in WORKER_COUNTERS.items():
            family = CounterMetricFamily(f"helpdesk_bot_{name}", text, labels=list(labels))
            raw = self.client.hgetall(_counter_key(self.prefix, name))
            if not raw and not labels:
                family.add_metric([], 0.0)
            for field, value in raw.items():
                values = _text(field).split(_SEP) if labels else []
                if len(values) == len(labels):
                    family.add_metric(values, float(value))
            yield family

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        """Broker messages waiting, and events recorded but not yet handled with the oldest one's age."""
        depth = GaugeMetricFamily("helpdesk_bot_queue_depth", "Messages waiting in a broker queue", labels=["queue"])
        for queue in self.queues:
            depth.add_metric([queue], float(self.client.llen(f"{self.prefix}{queue}")))
        yield depth
        pending = self.client.zcard(f"{self.prefix}queued")
        yield GaugeMetricFamily("helpdesk_bot_events_queued", "Events recorded and not yet handled", value=pending)
        oldest = self.client.zrange(f"{self.prefix}queued", 0, 0, withscores=True)
        age = max(0.0, time.time() - float(oldest[0][1])) if oldest else 0.0
        yield GaugeMetricFamily(
            "helpdesk_bot_oldest_queued_event_age_seconds", "Age of the oldest event not yet handled", value=age
        )

    def _per_desk(self) -> Iterator[HistogramMetricFamily | CounterMetricFamily]:
        """Queue latency and desk calls (counted by tasks/budget.py) of each desk."""
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
