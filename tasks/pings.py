"""The I/O of the ping runbook (`bot/policy/pings.py`): the desk's own SLA clocks, read only for a ticket
that is due a draft (the one text that shows them), so a sweep spends no call on the others."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.policy import pings
from bot.policy.runbook import Situation
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> Mapping[str, Any]:
    """`{"sla": [SlaMetric...]}` on a desk that reports SLAs (JSM); nothing elsewhere (the policy's targets
    are used) or when no draft is due."""
    read_sla = getattr(runtime.desk(situation.desk), "sla", None)
    if read_sla is None or not pings.needs_sla(situation):
        return {}
    return {"sla": tuple(read_sla(situation.ticket))}
