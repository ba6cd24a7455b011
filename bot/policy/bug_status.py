"""Bug status back to the ticket: what a dev bug's status change means for the support ticket it was filed for.

Every status change of the bug becomes an internal note on the ticket. When the bug is resolved as fixed, the
customer is told once (template `bug_fixed`) and the ticket goes back to the agent (open); resolved as won't-fix
(`bugs.wont_fix_resolutions`), the agents get the note only and decide what to tell the customer.
"""

from __future__ import annotations

import re

from bot.domain.actions import Action, Comment, SetStatus, Tag
from bot.domain.tickets import Status, Visibility
from bot.policy.runbook import Situation, Verdict
from bot.policy.templates import render

FIXED_TAG = "helpdesk-bot-bug-fixed"
"""On the support ticket once the customer was told the bug is fixed: told once, however often it flips."""
RULE = "bug-status"
REF = re.compile(r"^helpdesk-bot-ref-(?P<desk>zendesk|jira)-(?P<id>[a-z0-9_]+(?:-\d+)?)$")


def support_ref(labels: tuple[str, ...]) -> tuple[str, str] | None:
    """(desk, ticket id) of the ticket a bug was filed for, from the label the bot put on it."""
    for label in labels:
        hit = REF.match(label.lower())
        if hit:
            desk, ticket_id = hit.group("desk"), hit.group("id")
            return desk, ticket_id.upper() if desk == "jira" else ticket_id
    return None


def decide(s: Situation) -> Verdict:
    bug = s.ticket
    project = s.policy.bugs.project or getattr(s.policy.desk("jira"), "dev_project", None)
    if bug.project != project:
        return Verdict("not an issue of the dev project")
    ref = support_ref(bug.tags)
    if ref is None:
        return Verdict("not a bug the bot filed for a ticket")
    support = s.facts.get("support")
    if support is None:
        return Verdict(f"the {ref[0]} ticket {ref[1]} it was filed for is gone")
    desk, ticket_id = ref
    done = bug.status in (Status.SOLVED, Status.CLOSED)
    wont_fix = done and bug.resolution in s.policy.bugs.wont_fix_resolutions
    state = f"{bug.status.value}" + (f" (resolution {bug.resolution})" if done and bug.resolution else "")
    actions: list[Action] = [
        Comment(
            desk=desk,
            ticket_id=ticket_id,
            rule=RULE,
            why="the dev bug's status changed",
            body=f"Dev bug {bug.id} is now {state}: {bug.url}",
        )
    ]
    if done and not wont_fix and FIXED_TAG not in support.tags:
        values = {"customer_name": _first_name(support.requester.name), "ticket_id": ticket_id, "bug_key": bug.id}
        body = render("bug_fixed", s.policy.templates, values)
        actions += [
            Comment(
                desk=desk,
                ticket_id=ticket_id,
                rule=RULE,
                why="the bug is fixed: the customer is told once",
                body=body,
                visibility=Visibility.PUBLIC,
                template="bug_fixed",
            ),
            SetStatus(
                desk=desk,
                ticket_id=ticket_id,
                rule=RULE,
                why="back to the agent to confirm the fix",
                status=Status.OPEN,
            ),
            Tag(desk=desk, ticket_id=ticket_id, rule=RULE, why="the customer was told", add=(FIXED_TAG,)),
        ]
    outcome = "won't fix: agents noted" if wont_fix else ("fixed: customer told" if len(actions) > 1 else "noted")
    return Verdict(f"{bug.id} {outcome} on {desk} ticket {ticket_id}", tuple(actions))


def _first_name(name: str) -> str:
    words = name.replace(",", " ").split()
    return words[0] if words else "there"
