"""Where a sweep has got to, per desk and runbook, so a restarted worker carries on instead of starting over.

A sweep pages through a desk's cursor search. After every batch of writes has landed it stores the
cursor of the page it is on and the instant it decides as of; a sweep of the same desk and runbook that
starts while that record exists (the task redelivered after a worker died, `helpdesk-bot sweep` run
again after Ctrl-C) resumes from it, as of the same instant, and deletes it when the pass is complete.
Resuming re-reads the page it stopped in: tickets already written there are found with their new follow-up
state (not due), so none is written twice and none is skipped. The record expires with the desks' cursors
(Zendesk's export cursor lives an hour); an expired cursor means the next sweep starts afresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import redis

CURSOR_TTL = 3600


@dataclass(frozen=True)
class Checkpoint:
    now: datetime
    cursor: str | None
    """The cursor of the page to read next (None: the first page)."""


class CursorStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.prefix = client, prefix

    def _key(self, desk: str, runbook: str) -> str:
        return f"{self.prefix}sweep-cursor:{desk}:{runbook}"

    def load(self, desk: str, runbook: str) -> Checkpoint | None:
        raw = self.r.get(self._key(desk, runbook))
        if not raw:
            return None
        data = json.loads(raw)
        return Checkpoint(datetime.fromisoformat(data["now"]), data.get("cursor"))

    def save(self, desk: str, runbook: str, checkpoint: Checkpoint) -> None:
        data = {"now": checkpoint.now.isoformat(), "cursor": checkpoint.cursor}
        self.r.set(self._key(desk, runbook), json.dumps(data), ex=CURSOR_TTL)

    def clear(self, desk: str, runbook: str) -> None:
        self.r.delete(self._key(desk, runbook))
