"""Human-readable output of the CLI: event tables, decisions, replay comparisons and sweep tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.domain.decisions import Decision, RunbookResult, action_key
from bot.eventlog import EventRecord

if TYPE_CHECKING:
    from bot.domain.tickets import Ticket
    from bot.policy.followup import Standing
    from tasks.replay import ReplayResult
    from tasks.sweeps import SweepProgress, SweepRow

ROW = "{:<20} {:<20} {:<8} {:<16} {:<10} {:<8} {}"


def event_row_header() -> str:
    return ROW.format("EVENT", "RECEIVED (UTC)", "DESK", "KIND", "TICKET", "STATE", "DETAIL")


def _summary(decision: Decision) -> str:
    actions = [a.get("action", "?") for a in decision.actions]
    return f"{decision.outcome} [{', '.join(actions)}]" if actions else decision.outcome


def event_lines(rec: EventRecord) -> list[str]:
    """The event's row, then one indented line per replay (the first decision is never replaced)."""
    detail = rec.error or (_summary(rec.decision) if rec.decision else rec.reason)
    row = ROW.format(
        rec.event.id,
        rec.event.received_at.strftime("%Y-%m-%d %H:%M:%S"),
        rec.event.desk,
        rec.event.kind.value,
        rec.event.ticket_id or "-",
        rec.state.value,
        detail,
    )
    replays = [f"{'':<20} replayed {(r.at or '?')[:19]:<19} ({r.source}): {_summary(r)}" for r in rec.replays]
    return [row, *replays]


def record_json(rec: EventRecord) -> dict[str, Any]:
    return {
        "id": rec.event.id,
        "desk": rec.event.desk,
        "kind": rec.event.kind.value,
        "ticket": rec.event.ticket_id,
        "state": rec.state.value,
        "received_at": rec.event.received_at.isoformat(),
        "reason": rec.reason,
        "error": rec.error,
        "decision": rec.decision.to_dict() if rec.decision else None,
        "replays": [r.to_dict() for r in rec.replays],
    }


def diff_actions(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    """Lines `= same`, `- only the first time`, `+ only now`, each with its rule and reasoning."""
    before_keys = {action_key(a): a for a in before}
    now_keys = {action_key(a): a for a in now}
    lines = []
    for key, action in now_keys.items():
        mark = "=" if key in before_keys else "+"
        lines.append(f"  {mark} {key}  [rule: {action.get('rule') or '-'}; {action.get('why') or ''}]")
    for key, action in before_keys.items():
        if key not in now_keys:
            lines.append(f"  - {key}  [rule: {action.get('rule') or '-'}; {action.get('why') or ''}]")
    return lines


def print_replay(result: ReplayResult, *, dry_run: bool) -> None:
    rec = result.record
    print(
        f"event {rec.event.id} ({rec.event.desk} {rec.event.kind.value} ticket {rec.event.ticket_id or '-'}, "
        f"state {rec.state.value})"
    )
    first = rec.decision.outcome if rec.decision else (rec.reason or "(not yet processed)")
    print(f"  first time: {first}")
    print(f"  {'would do now' if dry_run else 'now'}: {result.now.outcome}")
    lines = diff_actions(rec.actions, result.now.actions)
    print("\n".join(lines) if lines else "  (no actions either time)")
    writes = [w for r in result.now.runbooks for w in r.writes]
    if dry_run:
        print("  writes: " + ("; ".join(writes) if writes else "none (everything is already in effect)"))
    else:
        print(f"  writes sent: {result.now.writes_sent}")


def print_decision(decision: Decision) -> None:
    """A decision as a person reads it: per runbook, the outcome, each action with its rule and why, the writes."""
    print(f"  outcome: {decision.outcome}")
    for result in decision.runbooks:
        for action in result.actions:
            fields = {k: v for k, v in action.items() if k not in ("action", "rule", "why")}
            print(f"  - {action.get('action')}: {fields}")
            print(f"      rule: {action.get('rule') or '-'}; why: {action.get('why') or '-'}")
        for write in result.writes:
            print(f"  write: {write}")
        if result.unresolved_people:
            print(f"  people not found on the desk: {', '.join(result.unresolved_people)}")


SWEEP_ROW = "{:<16} {:<16} {:<28} {:<44} {}"


def _action_rows(result: RunbookResult) -> list[tuple[str, str]]:
    """(action, reason) pairs of a sweep result; one `-` row with the outcome when it decided nothing."""
    if not result.actions:
        return [("-", result.outcome)]
    return [(_action_text(a), str(a.get("why") or a.get("rule") or "")) for a in result.actions]


def _action_text(action: Mapping[str, Any]) -> str:
    name = str(action.get("action", "?"))
    detail = action.get("add") or action.get("status") or action.get("visibility") or action.get("resolution")
    return f"{name}({', '.join(detail) if isinstance(detail, list) else detail})" if detail else name


def print_sweep(rows: Iterable[SweepRow]) -> None:
    print(SWEEP_ROW.format("TICKET", "RUNBOOK", "ACTION", "REASON", "DUE"))
    seen = 0
    for row in rows:
        seen += 1
        due = row.result.due or ("now" if row.result.actions else "-")
        for action, reason in _action_rows(row.result):
            print(SWEEP_ROW.format(f"{row.desk} {row.ticket}", row.runbook, action[:28], reason[:44], due[:25]))
    if not seen:
        print("(no ticket is due for a periodic runbook)")


@contextmanager
def sweep_progress_bar() -> Iterator[Callable[[SweepProgress], None] | None]:
    """A live progress line under the sweep table on a terminal (rich): tickets seen and changed, API calls,
    the budget left. None when standard output is not a terminal (a pipe, a log), so nothing extra is printed.
    Rows printed meanwhile go above the bar. A cursor search has no total, so the bar counts, it does not fill."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console()
    if not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("sweep starting", total=None)

        def show(p: SweepProgress) -> None:
            left = "?" if p.budget_left is None else str(p.budget_left)
            bar.update(
                task,
                description=f"{p.desk} {p.runbook}: {p.seen} seen, {p.changed} changed, "
                f"{p.calls} API calls, budget left {left}/min",
            )

        yield show


def sweep_json(row: SweepRow) -> dict[str, Any]:
    return {"desk": row.desk, "ticket": row.ticket, **row.result.to_dict()}


def standing_lines(ticket: Ticket, state: Standing, sends: datetime | None = None) -> list[str]:
    """`helpdesk-bot status`: a ticket's follow-up state as an agent reads it (times in the customer's zone).
    `sends`: when the next step goes out where that is later than its due time (the customer's business hours,
    the ticket's slot of their day: `sweeps.spread`)."""
    from bot.policy.followup import when
    from bot.policy.followup_state import STRIKE_TAGS

    since = f" since {when(state.since)}" if state.since else ""
    tags = [t for t in STRIKE_TAGS if t in ticket.tags]
    lines = [
        f"{ticket.desk} ticket {ticket.id}: {ticket.subject}",
        f"  status: {ticket.status.value}; waiting on {state.waiting_on}{since}",
        f"  ladder: {state.ladder}; strikes sent: {state.strikes} ({', '.join(tags) or 'no strike tags'})",
    ]
    if state.blocked:
        lines.append(f"  follow-up {state.blocked}: nothing is sent or resolved")
    if state.on_hold_until:
        lines.append(f"  on hold (out of office) until {when(state.on_hold_until)}")
    if state.next_action and state.next_at and not state.blocked:
        lines.append(f"  next: {state.next_action} at {when(state.next_at)}")
        if sends is not None:
            local = sends.astimezone(ZoneInfo(state.zone))
            lines.append(f"  goes out: {when(local)} (the customer's business hours, the ticket's slot of the day)")
    elif not state.blocked:
        lines.append("  next: nothing is due (the agent's move)" if state.waiting_on == "support" else "  next: -")
    if state.detail and not state.blocked:
        lines.append(f"  because: {state.detail}")
    return lines


def standing_json(ticket: Ticket, state: Standing, sends: datetime | None = None) -> dict[str, Any]:
    out = {"desk": ticket.desk, "ticket": ticket.id, "status": ticket.status.value, **asdict(state), "sends_at": sends}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}
