"""A local, durable spool for events that arrive while Redis is unreachable, and the thread that drains it.

The sender is told `202 spooled` once the event is committed here; a drainer thread in every web process
moves spooled events into the event log (and the queue) within seconds of Redis answering again, with no
further delivery needed. Only when this write fails too does intake answer 503, so the sender's own
retries become the last line of defence.

Why SQLite (stdlib, WAL mode, `synchronous=FULL`): each `put` is one committed transaction, so a crash
never leaves a half-written entry that blocks the rest, and several gunicorn workers can put and drain
the same file at once. Draining reads a batch, hands each event to the sink, and deletes exactly the rows
it handled: a `put` racing a drain adds a new row that the next batch takes. Two processes draining the
same row at once is harmless because the event log's record script deduplicates by event id. A row that
cannot be read back is moved to `set_aside` with its reason instead of being retried forever.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
import structlog

from bot.domain.events import Event

log = structlog.get_logger(__name__)

Sink = Callable[[Event, str, str], None]
"""Records one spooled event: (event, state, reason). Raises `redis.RedisError` while Redis is down."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry TEXT NOT NULL,
    spooled_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at TEXT NOT NULL
);
"""
BUSY_TIMEOUT_MS = 5000
"""How long a writer waits for another process's transaction; commits here take well under a millisecond."""


@dataclass(frozen=True)
class SetAside:
    """A spooled entry that could not be recorded, kept with the reason for an operator to look at."""

    id: int
    entry: str
    reason: str
    set_aside_at: str


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.path = directory / "intake.sqlite3"
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short-lived connection per call: safe across threads and forked processes."""
        if not self._ready:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)) as db:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self._ready:
                _initialise(db)
                self.path.chmod(0o600)
                self._ready = True
            db.execute("PRAGMA synchronous = FULL")  # 202 means on disk, not in the page cache
            yield db

    def put(self, event: Event, state: str, reason: str) -> None:
        """Commit one event durably. Raises OSError (or sqlite3.Error) when the disk refuses it."""
        entry = json.dumps({"event": event.to_json(), "state": state, "reason": reason}, ensure_ascii=False)
        try:
            with self._connect() as db:
                db.execute("INSERT INTO spooled (entry, spooled_at) VALUES (?, ?)", (entry, _now()))
        except sqlite3.Error as exc:
            raise OSError(f"spool {self.path}: {exc}") from exc

    def depth(self) -> int:
        """Events waiting to be recorded (0 when the spool was never used)."""
        if not self.path.exists():
            return 0
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM spooled").fetchone()[0])

    def set_aside_count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM set_aside").fetchone()[0])

    def set_aside(self, limit: int = 100) -> list[SetAside]:
        """Entries that could not be recorded, newest first."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, entry, reason, set_aside_at FROM set_aside ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [SetAside(*row) for row in rows]

    def drain(self, sink: Sink, batch: int = 200) -> int:
        """Feed spooled events to `sink`, oldest first, deleting each once it is recorded.

        Stops (and leaves the rest for later) at the first `redis.RedisError`: Redis is still down. Any
        other failure belongs to that one entry, which is set aside with the reason. Returns how many
        events were recorded.
        """
        if not self.path.exists():
            return 0
        done = 0
        while True:
            with self._connect() as db:
                rows = db.execute("SELECT id, entry FROM spooled ORDER BY id LIMIT ?", (batch,)).fetchall()
            if not rows:
                return done
            for row_id, entry in rows:
                try:
                    event, state, reason = _decode(entry)
                except (ValueError, KeyError, TypeError) as exc:
                    self._set_aside(row_id, entry, f"unreadable entry: {type(exc).__name__}: {exc}")
                    continue
                try:
                    sink(event, state, reason)
                except redis.RedisError:
                    return done
                except Exception as exc:  # one bad entry must never block the rest
                    self._set_aside(row_id, entry, f"could not be recorded: {type(exc).__name__}: {exc}")
                    continue
                with self._connect() as db:
                    db.execute("DELETE FROM spooled WHERE id = ?", (row_id,))
                done += 1

    def _set_aside(self, row_id: int, entry: str, reason: str) -> None:
        log.error("spooled entry set aside", spool_row=row_id, reason=reason)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO set_aside (entry, reason, set_aside_at) SELECT entry, ?, ? FROM spooled WHERE id = ?",
                (reason, _now(), row_id),
            )
            db.execute("DELETE FROM spooled WHERE id = ?", (row_id,))
            db.execute("COMMIT")


def _initialise(db: sqlite3.Connection) -> None:
    """WAL mode and the tables, the first time a process opens the spool. Several processes do so at once (web
    workers at start-up, a drain beside them), and SQLite answers the mode switch with "database is locked" at
    once, without waiting out `busy_timeout`, while another connection recovers or checkpoints the WAL: so the
    switch is tried again for as long as `busy_timeout` would have waited, then the error stands."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(INIT_RETRY_SECONDS)


INIT_RETRY_SECONDS = 0.01


def _decode(entry: str) -> tuple[Event, str, str]:
    item = json.loads(entry)
    if not isinstance(item, dict):
        raise TypeError(f"entry is {type(item).__name__}, not an object")
    state = item["state"]
    if state not in ("queued", "ignored"):
        raise ValueError(f"unknown state {state!r}")
    return Event.from_json(item["event"]), state, str(item.get("reason", ""))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Drainer:
    """A daemon thread that drains `spool` into `sink` every `interval` seconds while anything is spooled.

    One per web process (gunicorn forks workers before the app is built, so each worker starts its own);
    they share the SQLite file, and the event log's dedupe makes concurrent drains safe.
    """

    def __init__(self, spool: Spool, sink: Sink, interval: float = 1.0) -> None:
        self.spool, self.sink, self.interval = spool, sink, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-drainer", daemon=True)

    def start(self) -> Drainer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run_once(self) -> int:
        """Drain what is there now; every failure is logged, never raised (the thread must outlive it)."""
        try:
            if not self.spool.depth():
                return 0
            drained = self.spool.drain(self.sink)
        except Exception as exc:
            log.warning("spool drain failed; will retry", error=f"{type(exc).__name__}: {exc}")
            return 0
        if drained:
            log.info("drained spooled events", count=drained, left=self.spool.depth())
        return drained

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
