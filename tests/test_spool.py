"""The intake spool: deliveries during a Redis outage are answered `202 spooled` and recorded, queued once,
as soon as Redis answers again, with no further delivery; concurrent writers lose nothing; a corrupt entry
is set aside and does not block the rest."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot import embedded_redis
from bot.app import create_app
from bot.domain.events import Actor, Event, EventKind
from bot.domain.tickets import Role
from bot.eventlog import EventLog, State
from bot.spool import Spool
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.test_intake import ZD_CREATED, fresh, make_settings, post

INTAKE_QUEUE_KEY = "helpdesk-intake"


class StoppableRedis:
    """A redis-server of the test's own, on a unix socket, that the test can stop and start again."""

    def __init__(self) -> None:
        # A short directory: unix socket paths are limited to ~100 bytes, pytest's tmp_path can be longer.
        self.dir = Path(tempfile.mkdtemp(prefix="hb-redis-", dir="/tmp"))
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = embedded_redis.start(self.dir, self.socket)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def own_redis() -> Iterator[StoppableRedis]:
    server = StoppableRedis()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


def an_event(n: int) -> Event:
    return Event(
        id=f"zd-test-{n:05d}",
        desk="zendesk",
        kind=EventKind.TICKET_CREATED,
        ticket_id=str(1000 + n),
        actor=Actor("1", Role.CUSTOMER),
        delivery_id=f"d{n}",
        received_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        payload={"n": n},
    )


def test_spooled_deliveries_are_recorded_within_5s_of_redis_returning_with_no_further_traffic(
    own_redis: StoppableRedis, redis_prefix: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(redis_prefix, tmp_path, redis_url=own_redis.url))
    c = app.test_client()
    own_redis.stop()

    answers = [post(c, "zendesk", fresh("zendesk", ZD_CREATED)) for _ in range(5)]
    assert [(a.status_code, a.json["status"]) for a in answers] == [(202, "spooled")] * 5
    ready = c.get("/readyz")
    assert ready.status_code == 503 and ready.json["spool_depth"] == 5
    assert "helpdesk_bot_spool_depth 5.0" in c.get("/metrics").get_data(as_text=True)

    own_redis.start()
    back_at = time.monotonic()
    log = EventLog(own_redis.client(), redis_prefix)
    ids = [a.json["event_id"] for a in answers]

    def all_recorded() -> bool:
        records = [log.get(i) for i in ids]
        return all(r is not None and r.state is State.QUEUED for r in records)

    wait_for(all_recorded, timeout=5.0)  # no request is made meanwhile: the drainer thread does it
    took = time.monotonic() - back_at
    assert own_redis.client().llen(f"{redis_prefix}{INTAKE_QUEUE_KEY}") == 5  # queued once each
    # The drainer deletes its batch's rows just after recording them: give it that moment on a busy machine.
    wait_for(lambda: c.get("/readyz").json["spool_depth"] == 0, timeout=5.0)
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json["spool_depth"] == 0
    print(f"spool drained {len(ids)} events {took:.2f}s after Redis answered again")


def test_an_ignored_delivery_spooled_during_an_outage_is_recorded_as_ignored_and_never_queued(
    own_redis: StoppableRedis, redis_prefix: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(redis_prefix, tmp_path, redis_url=own_redis.url))
    own_redis.stop()
    payload = json.loads(ZD_CREATED.read_text())
    payload.update(id="not-a-ticket-event", type="zen:event-type:user.created")
    resp = post(app.test_client(), "zendesk", json.dumps(payload).encode())
    assert resp.status_code == 202 and resp.json["status"] == "spooled"
    own_redis.start()
    log = EventLog(own_redis.client(), redis_prefix)
    record = wait_for(lambda: log.get(resp.json["event_id"]), timeout=5.0)
    assert record.state is State.IGNORED and "not handled" in record.reason
    assert own_redis.client().llen(f"{redis_prefix}{INTAKE_QUEUE_KEY}") == 0


def _put_many(directory: str, start: int, count: int) -> None:
    spool = Spool(Path(directory))
    for n in range(start, start + count):
        spool.put(an_event(n), "queued", "")


def test_puts_from_other_processes_during_drains_lose_nothing(tmp_path: Path) -> None:
    """Two processes keep spooling while this one drains over and over: every event comes out exactly once."""
    spool = Spool(tmp_path)
    seen: list[str] = []

    def sink(event: Event, state: str, reason: str) -> None:
        seen.append(event.id)

    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_put_many, args=(str(tmp_path), i * 1000, 150)) for i in range(2)]
    for w in writers:
        w.start()
    while any(w.is_alive() for w in writers):
        spool.drain(sink, batch=7)
    for w in writers:
        w.join()
        assert w.exitcode == 0
    spool.drain(sink)
    assert sorted(seen) == sorted(an_event(i * 1000 + n).id for i in range(2) for n in range(150))
    assert spool.depth() == 0


def test_two_web_processes_draining_the_same_spool_record_and_queue_each_event_once(
    redis_prefix: str, tmp_path: Path
) -> None:
    """Every gunicorn worker runs a drainer over the shared file; the event log's dedupe keeps it exactly-once."""
    _put_many(str(tmp_path), 0, 200)
    log = EventLog(redis.Redis.from_url(TEST_REDIS_URL), redis_prefix)
    queue = f"{redis_prefix}{INTAKE_QUEUE_KEY}"

    def sink(event: Event, state: str, reason: str) -> None:
        log.record(event, State(state), (queue, event.id.encode()), reason=reason)

    drainers = [threading.Thread(target=Spool(tmp_path).drain, args=(sink, 10)) for _ in range(2)]
    for d in drainers:
        d.start()
    for d in drainers:
        d.join()
    assert Spool(tmp_path).depth() == 0
    assert log.r.llen(queue) == 200
    assert len(set(log.r.lrange(queue, 0, -1))) == 200


def test_a_corrupt_entry_is_set_aside_with_its_reason_and_the_rest_are_recorded(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(3):
        spool.put(an_event(n), "queued", "")
    with sqlite3.connect(spool.path) as db:
        db.execute("UPDATE spooled SET entry = ? WHERE id = 2", ('{"event": "{truncated',))
    db.close()
    seen: list[str] = []
    assert spool.drain(lambda e, s, r: seen.append(e.id)) == 2
    assert seen == [an_event(0).id, an_event(2).id]
    assert spool.depth() == 0
    [aside] = spool.set_aside()
    assert "unreadable entry" in aside.reason and "truncated" in aside.entry


def test_an_entry_the_event_log_refuses_is_set_aside_but_redis_being_down_keeps_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(3):
        spool.put(an_event(n), "queued", "")

    def redis_down(event: Event, state: str, reason: str) -> None:
        raise redis.ConnectionError("Connection refused")

    assert spool.drain(redis_down) == 0
    assert spool.depth() == 3 and spool.set_aside() == []

    def refuses_the_second(event: Event, state: str, reason: str) -> None:
        if event.id == an_event(1).id:
            raise ValueError("ticket id is not a string")

    assert spool.drain(refuses_the_second) == 2
    assert spool.depth() == 0
    [aside] = spool.set_aside()
    assert "ticket id is not a string" in aside.reason


def test_a_switch_to_wal_refused_as_locked_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite refuses the WAL switch at once ("database is locked", no busy wait) while another process recovers
    or checkpoints the WAL, as web workers starting together do: the put waits its turn instead of failing."""
    refusals = [2]

    class Busy(sqlite3.Connection):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql.startswith("PRAGMA journal_mode") and refusals[0]:
                refusals[0] -= 1
                raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)  # type: ignore[arg-type]

    real = sqlite3.connect
    monkeypatch.setattr("bot.spool.sqlite3.connect", lambda *a, **kw: real(*a, **kw, factory=Busy))
    spool = Spool(tmp_path)
    spool.put(an_event(1), "queued", "")
    assert refusals == [0] and spool.depth() == 1
