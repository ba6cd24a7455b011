"""The event log in Redis: every accepted event with its state and the actions taken, replayable.

Keys (all under one prefix, so tests and several bots can share a Redis):
- `<p>event:<id>`   hash: `event` (JSON), `state`, `decision` (JSON, `bot.domain.decisions.Decision`: the
                    first decision, never replaced), `replays` (JSON list of later replays' decisions),
                    `error`, `attempts`, `updated_at`; expires after the retention period.
- `<p>events`       sorted set of event ids by received time (listing, `--since/--until`).
- `<p>ticket:<desk>:<ticket>` sorted set of that ticket's event ids.
The event id is derived from the sender's delivery id, so the event key doubles as the dedupe key:
recording is `SET`-if-absent, atomically with enqueueing (see `RECORD_SCRIPT`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import redis

from bot.domain.decisions import Decision
from bot.domain.events import Event


class State(enum.StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


# KEYS: event hash, index zset, ticket zset, queue list (may be unused), queued-events zset
# ARGV: event json, score, state, ttl seconds, event id, now text, message ('' = do not enqueue), reason
RECORD_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'event', ARGV[1], 'state', ARGV[3], 'updated_at', ARGV[6], 'attempts', 0,
           'reason', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[4])
if ARGV[7] ~= '' then redis.call('LPUSH', KEYS[4], ARGV[7]) end
if ARGV[3] == 'queued' then redis.call('ZADD', KEYS[5], ARGV[2], ARGV[5]) end
return 1
"""


@dataclass(frozen=True)
class EventRecord:
    event: Event
    state: State
    updated_at: str
    attempts: int = 0
    reason: str = ""
    error: str = ""
    decision: Decision | None = None
    replays: tuple[Decision, ...] = ()

    @property
    def actions(self) -> list[dict[str, Any]]:
        return self.decision.actions if self.decision else []


class EventLog:
    def __init__(self, client: redis.Redis, prefix: str = "hb:", ttl_days: int = 30) -> None:
        self.r = client
        self.prefix = prefix
        self.ttl = ttl_days * 86400
        self._record = client.register_script(RECORD_SCRIPT)

    def _key(self, event_id: str) -> str:
        return f"{self.prefix}event:{event_id}"

    def _ticket_key(self, desk: str, ticket_id: str) -> str:
        return f"{self.prefix}ticket:{desk}:{ticket_id}"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}events"

    @property
    def queued_key(self) -> str:
        """Events not yet handled, by received time: what the stale-event sweep looks at."""
        return f"{self.prefix}queued"

    def record(self, event: Event, state: State, message: tuple[str, bytes] | None = None, reason: str = "") -> bool:
        """Store `event` (and push `message` onto its queue) unless already known. False = duplicate."""
        queue, body = message if message else ("", b"")
        added = self._record(
            keys=[
                self._key(event.id),
                self.index_key,
                self._ticket_key(event.desk, event.ticket_id),
                queue or f"{self.prefix}unused",
                self.queued_key,
            ],
            args=[
                event.to_json(),
                event.received_at.timestamp(),
                state.value,
                self.ttl,
                event.id,
                _now(),
                body,
                reason,
            ],
        )
        return bool(added)

    def get(self, event_id: str) -> EventRecord | None:
        raw = self.r.hgetall(self._key(event_id))
        return _to_record(raw) if raw else None  # type: ignore[arg-type]

    def set_state(self, event_id: str, state: State, *, decision: Decision | None = None, error: str = "") -> None:
        mapping: dict[str, Any] = {"state": state.value, "updated_at": _now(), "error": error}
        if decision is not None:
            mapping["decision"] = json.dumps(decision.to_dict(), ensure_ascii=False, default=str)
        pipe = self.r.pipeline()
        pipe.hset(self._key(event_id), mapping=mapping)  # type: ignore[arg-type]
        if state is State.QUEUED:
            pipe.zadd(self.queued_key, {event_id: datetime.now(UTC).timestamp()})
        else:
            pipe.zrem(self.queued_key, event_id)
        pipe.execute()

    def add_replay(self, event_id: str, decision: Decision) -> None:
        """Append a replay's decision to the event's history; the first decision stays as it was.

        Callers hold the ticket's lock, so two replays of one event never interleave their updates.
        """
        key = self._key(event_id)
        raw = self.r.hget(key, "replays")
        history = json.loads(raw) if raw else []
        history.append(decision.to_dict())
        self.r.hset(
            key, mapping={"replays": json.dumps(history, ensure_ascii=False, default=str), "updated_at": _now()}
        )

    def count_attempt(self, event_id: str) -> int:
        pipe = self.r.pipeline()
        pipe.hincrby(self._key(event_id), "attempts", 1)
        pipe.hset(self._key(event_id), "updated_at", _now())
        return int(pipe.execute()[0])

    def queued_before(self, cutoff: datetime) -> list[str]:
        """Ids of events still queued that were received before `cutoff`."""
        ids = self.r.zrangebyscore(self.queued_key, "-inf", cutoff.timestamp())
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def ids_between(
        self, since: datetime | None = None, until: datetime | None = None, newest_first: bool = True
    ) -> list[str]:
        lo = since.timestamp() if since else "-inf"
        hi = until.timestamp() if until else "+inf"
        if newest_first:
            ids = self.r.zrevrangebyscore(self.index_key, hi, lo)
        else:
            ids = self.r.zrangebyscore(self.index_key, lo, hi)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def ticket_event_ids(self, desk: str, ticket_id: str) -> list[str]:
        ids = self.r.zrevrange(self._ticket_key(desk, ticket_id), 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def records(self, ids: Sequence[str]) -> Iterator[EventRecord]:
        """Records for `ids` in order, skipping those already expired, in pipelined batches."""
        for start in range(0, len(ids), 200):
            batch = ids[start : start + 200]
            pipe = self.r.pipeline()
            for event_id in batch:
                pipe.hgetall(self._key(event_id))
            for raw in pipe.execute():
                if raw:
                    yield _to_record(raw)

    def query(
        self,
        *,
        desk: str | None = None,
        state: State | None = None,
        ticket: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[EventRecord]:
        ids = self.ticket_event_ids(desk, ticket) if ticket and desk else self.ids_between(since, until)
        out: list[EventRecord] = []
        for rec in self.records(ids):
            if desk and rec.event.desk != desk:
                continue
            if state and rec.state is not state:
                continue
            if ticket and rec.event.ticket_id != ticket:
                continue
            if since and rec.event.received_at < since:
                continue
            if until and rec.event.received_at > until:
                continue
            out.append(rec)
            if len(out) >= limit:
                break
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _to_record(raw: dict[bytes, bytes]) -> EventRecord:
    get = {k.decode(): v.decode() for k, v in raw.items()}
    first, replays = _decisions(get.get("decision"))
    return EventRecord(
        event=Event.from_json(get["event"]),
        state=State(get.get("state", "queued")),
        updated_at=get.get("updated_at", ""),
        attempts=int(get.get("attempts", 0) or 0),
        reason=get.get("reason", ""),
        error=get.get("error", ""),
        decision=first,
        replays=replays + tuple(Decision.from_dict(d) for d in json.loads(get.get("replays") or "[]")),
    )


def _decisions(raw: str | None) -> tuple[Decision | None, tuple[Decision, ...]]:
    """The first decision and any replay folded into it by earlier versions, which kept the first one
    under `first_decision` inside the replay's record."""
    if not raw:
        return None, ()
    data = json.loads(raw)
    if "first_decision" in data and "version" not in data:
        first = data.pop("first_decision")
        return Decision.from_dict(first), (replace(Decision.from_dict(data), source="replay"),)
    return Decision.from_dict(data), ()
