"""The follow-up ladder's gather step: the ticket's linked dev bug, for the closing rule "only an active
low-priority dev bug remains".

Only a waiting ticket that carries `helpdesk-bot-bug-linked` (the linked-bug runbook put it there when it filed
the bug) costs a look-up: the bug is found by the `helpdesk-bot-ref-<desk>-<id>` label the executor gave it,
then read for its status and priority. Every other pending ticket of a sweep costs nothing more.
"""

from __future__ import annotations

from typing import Any

from bot.domain.errors import NotFound
from bot.domain.tickets import Status, Ticket
from bot.policy.followup import LINKED_BUG
from bot.policy.linked_bug import LINKED_TAG
from bot.policy.runbook import Situation
from tasks.runtime import DeskNotConfigured, Runtime


def linked_bug(runtime: Runtime, ticket: Ticket) -> Ticket | None:
    """The dev bug filed for `ticket`, as the Jira desk has it now; None without one (or without a Jira desk)."""
    policy = runtime.policy
    if LINKED_TAG not in ticket.tags or not policy.followup.closing.dev_bug_priorities:
        return None
    if ticket.status not in (Status.PENDING, Status.ON_HOLD):
        return None
    project = policy.bugs.project or getattr(policy.desk("jira"), "dev_project", None)
    if not project:
        return None
    try:
        jira = runtime.desk("jira")
        found = jira.find_linked_issue(ticket, project=project)
        return jira.get_ticket(found.key) if found is not None else None
    except (NotFound, DeskNotConfigured):
        return None


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> dict[str, Any]:
    bug = linked_bug(runtime, situation.ticket)
    return {LINKED_BUG: bug} if bug is not None else {}
