"""Load generators for the ingest benchmark.

- `paced()`: open loop at a fixed offered rate. Request i is *due* at t0 + i/rate, and its latency is
  measured from that due time, not from when a client thread got round to sending it. A slow server
  therefore shows up as latency instead of silently lowering the offered load (no coordinated
  omission). Debian's `wrk` has no rate control (that is wrk2's `-R`), hence this Python generator.
- `saturate()`: `wrk` closed loop with 16 connections, the most the receiver can take.

Every request carries a unique Zendesk event id, signed the way Zendesk signs it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.zendesk.webhook import sign

WRK_HINT = "wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)"
LUA = Path(__file__).with_name("replay.lua")
PATH = "/webhooks/zendesk"


def delivery(seq: int, secret: str) -> tuple[bytes, dict[str, str]]:
    """One signed `ticket.created` event subscription delivery (~0.6 KB) with a fresh event id."""
    ticket = str(100000 + seq)
    body = {
        "type": "zen:event-type:ticket.created",
        "id": str(uuid.uuid4()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "subject": f"zen:ticket:{ticket}",
        "account_id": 22129848,
        "zendesk_event_version": "2022-11-06",
        "event": {},
        "detail": {
            "id": ticket,
            "actor_id": "301",
            "requester_id": "301",
            "submitter_id": "301",
            "organization_id": "401",
            "status": "NEW",
            "priority": "NORMAL",
            "subject": "Production API returns 500 since 10:00",
            "description": "Every call to /v1/orders fails with 500. Started this morning, all regions.",
            "tags": ["api"],
            "via": {"channel": "web_form"},
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", **sign(secret, raw)}


@dataclass
class PhaseResult:
    """What one load phase measured. Latencies in milliseconds."""

    offered: float | None
    sent: int
    ok: int
    errors: int
    achieved: float
    p50: float
    p99: float
    max: float
    status: dict[str, int] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        return {
            "offered_rps": self.offered,
            "requests": self.sent,
            "errors": self.errors,
            "rps": round(self.achieved, 1),
            "p50_ms": round(self.p50, 2),
            "p99_ms": round(self.p99, 2),
            "max_ms": round(self.max, 2),
            "status": self.status,
        }


def median_of(results: list[PhaseResult]) -> PhaseResult:
    """One phase measured several times: counts are summed, rates and latencies are the median round."""
    status: Counter[str] = Counter()
    for r in results:
        status.update(r.status)
    return PhaseResult(
        offered=results[0].offered,
        sent=sum(r.sent for r in results),
        ok=sum(r.ok for r in results),
        errors=sum(r.errors for r in results),
        achieved=statistics.median(r.achieved for r in results),
        p50=statistics.median(r.p50 for r in results),
        p99=statistics.median(r.p99 for r in results),
        max=statistics.median(r.max for r in results),
        status=dict(status),
    )


def paced(port: int, secret: str, rate: float, seconds: float, clients: int = 16) -> PhaseResult:
    """Offer `rate` req/s for `seconds` from `clients` threads; latency counted from each due time."""
    from tests.bench.common import percentile

    total = max(1, int(rate * seconds))
    requests = [delivery(i, secret) for i in range(total)]
    latencies: list[float] = []
    status: Counter[str] = Counter()
    lock = threading.Lock()
    counter = itertools.count()
    start = time.perf_counter() + 0.05
    finished = [start]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while (i := next(counter)) < total:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body, headers = requests[i]
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                code = type(exc).__name__
            done = time.perf_counter()
            with lock:
                latencies.append((done - due) * 1000)
                status[code] += 1
                finished[0] = max(finished[0], done)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(n for code, n in status.items() if code.startswith("2"))
    return PhaseResult(
        offered=rate,
        sent=total,
        ok=ok,
        errors=total - ok,
        achieved=total / max(finished[0] - start, 1e-9),
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        max=max(latencies, default=0.0),
        status=dict(status),
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def saturate(port: int, secret: str, seconds: int, workdir: Path, connections: int = 16) -> PhaseResult:
    """Closed-loop maximum with `wrk -t1 -c<connections>`, replaying unique pre-signed deliveries."""
    if not have_wrk():
        raise RuntimeError(WRK_HINT)
    seconds = max(1, seconds)
    count = seconds * 7000  # above any rate a 2-core box reaches, so bodies are rarely reused
    path = workdir / "deliveries.tsv"
    with path.open("wb") as out:
        for i in range(count):
            body, headers = delivery(i, secret)
            stamp = headers["X-Zendesk-Webhook-Signature-Timestamp"].encode()
            sig = headers["X-Zendesk-Webhook-Signature"].encode()
            out.write(stamp + b"\t" + sig + b"\t" + body + b"\n")
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA)]
    argv += [f"http://127.0.0.1:{port}{PATH}", "--", str(path), PATH]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    path.unlink()
    match = re.search(r"^WRK (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    got = json.loads(match.group(1))
    socket_errors = got["connect_errors"] + got["read_errors"] + got["write_errors"] + got["timeouts"]
    status = {str(k): int(v) for k, v in got["status"].items()}
    ok = sum(v for k, v in status.items() if k.startswith("2"))
    return PhaseResult(
        offered=None,
        sent=got["requests"],
        ok=ok,
        errors=got["non_2xx"] + socket_errors,
        achieved=got["requests"] / (got["duration_us"] / 1e6),
        p50=got["p50_us"] / 1000,
        p99=got["p99_us"] / 1000,
        max=got["max_us"] / 1000,
        status=status | ({"reused_bodies": got["wrapped"]} if got["wrapped"] else {}),
    )
