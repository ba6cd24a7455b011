"""The bug-status runbook's gather step: read the support ticket the bug was filed for (another desk, maybe)."""

from __future__ import annotations

from typing import Any

from bot.domain.errors import NotFound
from bot.policy.bug_status import support_ref
from bot.policy.runbook import Situation
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> dict[str, Any]:
    ref = support_ref(situation.ticket.tags)
    if ref is None:
        return {}
    desk, ticket_id = ref
    try:
        return {"support": runtime.desk(desk).get_ticket(ticket_id)}
    except NotFound:
        return {}
