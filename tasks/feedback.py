"""The feedback runbook's gather step: the feedback tool and the ticket's record in it, if any.

Only for tickets the pure decision would act on (`bot.policy.feedback.skip_reason`). Reads only (the tool is
asked for the ticket's record, never to create one), so a dry run writes nothing; both steps of the
runbook use it, the reply step after the record step wrote.
"""

from __future__ import annotations

from typing import Any

from bot.policy.feedback import skip_reason
from bot.policy.runbook import Situation
from connectors.feedback.records import Feedback
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> dict[str, Any]:
    if skip_reason(situation) is not None:
        return {}
    target = runtime.feedback
    if target is None:
        return {"tool": None}
    return {"tool": target.label, "idea": target.find(Feedback(situation.ticket))}
