"""A local append-only spool for events that arrive while Redis is unreachable.

The sender is told 202 once the event is on disk here; the spool is drained into the event log (and
the queue) as soon as Redis answers again. Only when this write fails too does intake answer 503,
so the sender's own retries become the last line of defence.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

from bot.domain.events import Event


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.path = directory / "intake.jsonl"

    def put(self, event: Event, state: str, reason: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"event": event.to_json(), "state": state, "reason": reason}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def pending(self) -> bool:
        return self.path.exists()

    def drain(self, sink: Callable[[Event, str, str], None]) -> int:
        """Feed every spooled event to `sink`; lines are removed only after all were accepted."""
        if not self.path.exists():
            return 0
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r", encoding="utf-8") as fh:
                lines = [json.loads(line) for line in fh if line.strip()]
            for item in lines:
                sink(Event.from_json(item["event"]), item["state"], item.get("reason", ""))
            self.path.unlink()
            return len(lines)
        finally:
            os.close(fd)
