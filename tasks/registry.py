"""Every runbook the bot runs, and what starts each one. The worker, the sweeps, `replay` and
`triage --dry-run` all read this one list, so they can never disagree about what acts on what.

A runbook is a pure decision function in `bot/policy/` (`Situation -> Verdict`), optionally a gather step
here in `tasks/` (the I/O its decision needs: agents, a round-robin turn...), and what starts it: event
kinds (several runbooks may react to one kind: they run in the order listed, under the ticket's lock)
and/or a schedule with a ticket selector (a desk query, run by the per-desk sweep).

Adding a runbook: one policy module, one line in `RUNBOOKS`, and its policy section. Deployments may add
their own runbooks without changing the package: `HELPDESK_BOT_RUNBOOK_PLUGINS` names modules (comma
separated) that each define `RUNBOOKS`, appended after these.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from bot.config import get_settings
from bot.domain.events import EventKind
from bot.domain.tickets import Ticket
from bot.policy import bug_status, config_change, escalation, feedback, followup, linked_bug, pings, triage
from bot.policy.runbook import Decide, Select, Situation, Verdict
from tasks import bug_status as bug_status_io
from tasks import config_change as config_change_io
from tasks import escalation as escalation_io
from tasks import feedback as feedback_io
from tasks import followup as followup_io
from tasks import pings as pings_io
from tasks import triage as triage_io


@dataclass(frozen=True)
class Schedule:
    """A periodic runbook: every `every`, the desk's tickets matching `select(policy, desk, now)`."""

    every: timedelta
    select: Select


@dataclass(frozen=True)
class Runbook:
    name: str
    decide: Decide
    on: tuple[EventKind, ...] = ()
    schedule: Schedule | None = None
    gather: Callable[..., Mapping[str, Any]] | None = None
    """(runtime, situation, *, dry_run) -> facts for the decision; None when the decision needs none."""
    desks: tuple[str, ...] = ()
    """Desks it runs on; empty means every desk."""
    recheck: Callable[[Situation, Ticket], Verdict] | None = None
    """Periodic runbooks that write to customers: (the ticket read back after the writes, the snapshot decided on)
    -> what to put right when the customer wrote in between (see `tasks/sweeps.py`)."""
    from_search: Callable[[Situation], Verdict | None] | None = None
    """Periodic runbooks: the decision on a search result alone (no comments) where it is certain, None where the
    ticket must be read; lets a sweep of a desk with bulk writes act without reading each ticket."""
    names_kept: Callable[[Ticket], bool] | None = None
    """With `from_search`: whether the search result itself keeps the customer's name its texts need; where it
    does not, the sweep looks requesters up (100 a call) before deciding."""

    def runs_on(self, desk: str) -> bool:
        return not self.desks or desk in self.desks


HOURLY = timedelta(hours=1)
ESCALATION_EVENTS = (EventKind.TICKET_CREATED, EventKind.TICKET_UPDATED, EventKind.COMMENT_ADDED)
CLASSIFIED = (EventKind.TICKET_CREATED, EventKind.TICKET_UPDATED)
"""Runbooks by request type: after triage set it on a new ticket, or when an agent asks later by tag."""

RUNBOOKS: tuple[Runbook, ...] = (
    Runbook("triage", triage.decide, on=(EventKind.TICKET_CREATED,), gather=triage_io.gather),
    Runbook("linked-bug", linked_bug.decide, on=(EventKind.TICKET_CREATED, EventKind.TICKET_UPDATED)),
    Runbook("config-change", config_change.decide, on=CLASSIFIED, gather=config_change_io.gather),
    # Two steps: the reply names the idea, so it is decided on the ticket read again after the record.
    Runbook("feedback", feedback.decide_record, on=CLASSIFIED, gather=feedback_io.gather),
    Runbook("feedback-reply", feedback.decide_reply, on=CLASSIFIED, gather=feedback_io.gather),
    # Last of a new ticket's runbooks: its move to the escalation group is not undone by a hand-off.
    Runbook("escalation", escalation.decide, on=ESCALATION_EVENTS, gather=escalation_io.gather),
    Runbook(
        "escalation-sla",
        escalation.decide_sla,
        schedule=Schedule(escalation.SWEEP_EVERY, escalation.select),
        gather=escalation_io.gather_sla,
    ),
    Runbook(
        "bug-status", bug_status.decide, on=(EventKind.STATUS_CHANGED,), gather=bug_status_io.gather, desks=("jira",)
    ),
    Runbook("ping", pings.decide, schedule=Schedule(timedelta(minutes=15), pings.select), gather=pings_io.gather),
    Runbook("followup-reply", followup.decide_reply, on=(EventKind.COMMENT_ADDED, EventKind.STATUS_CHANGED)),
    Runbook(
        "followup-ladder",
        followup.decide_ladder,
        schedule=Schedule(HOURLY, followup.select_waiting),
        gather=followup_io.gather,
        recheck=followup.recheck_after_write,
        from_search=followup.decide_ladder_from_search,
        names_kept=followup.greeting_kept,
    ),
    Runbook(
        "followup-close", followup.decide_close, schedule=Schedule(HOURLY, followup.select_resolved), desks=("jira",)
    ),
)


@lru_cache(maxsize=1)
def registry() -> tuple[Runbook, ...]:
    """`RUNBOOKS` and the plugins' runbooks, checked for unique names."""
    found = list(RUNBOOKS)
    for module in filter(None, (m.strip() for m in get_settings().helpdesk_bot_runbook_plugins.split(","))):
        found.extend(importlib.import_module(module).RUNBOOKS)
    names = [r.name for r in found]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ValueError(f"runbook names must be unique: {', '.join(sorted(duplicated))}")
    return tuple(found)


def for_event(kind: EventKind, desk: str) -> tuple[Runbook, ...]:
    return tuple(r for r in registry() if kind in r.on and r.runs_on(desk))


def periodic(desk: str) -> tuple[Runbook, ...]:
    return tuple(r for r in registry() if r.schedule is not None and r.runs_on(desk))


def named(name: str) -> Runbook:
    for runbook in registry():
        if runbook.name == name:
            return runbook
    raise KeyError(name)
