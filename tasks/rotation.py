"""Round-robin turns in Redis: fair across concurrent workers, stable per ticket, surviving restarts.

The turn counter of a pool is one `INCR`, so two workers never take the same turn. The turn a
ticket got is remembered, so re-deciding the same ticket (a retry, a replay) gets the same agent
instead of advancing the rotation again.
"""

from __future__ import annotations

import redis

TAKE_TURN = """
local t = redis.call('GET', KEYS[2])
if t then return tonumber(t) end
t = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], t, 'EX', ARGV[1])
return t
"""

TURN_MEMORY = 30 * 86400


class Rotation:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r, self.prefix = client, prefix
        self._take = client.register_script(TAKE_TURN)

    def _keys(self, desk: str, pool: str, ticket_id: str) -> list[str]:
        return [f"{self.prefix}rr:{desk}:{pool}", f"{self.prefix}rr-turn:{desk}:{pool}:{ticket_id}"]

    def take(self, desk: str, pool: str, ticket_id: str) -> int:
        """This ticket's turn in `pool` (taken now, or the one it already had)."""
        return int(self._take(keys=self._keys(desk, pool, ticket_id), args=[TURN_MEMORY]))

    def peek(self, desk: str, pool: str, ticket_id: str) -> int:
        """The turn `take` would return, without taking it (dry runs)."""
        counter_key, turn_key = self._keys(desk, pool, ticket_id)
        had = self.r.get(turn_key)
        if had is not None:
            return int(had)
        return int(self.r.get(counter_key) or 0) + 1
