"""Human-readable output of the CLI: event tables and replay comparisons."""

from __future__ import annotations

from typing import Any

from bot.eventlog import EventRecord

ROW = "{:<20} {:<20} {:<8} {:<16} {:<10} {:<8} {}"


def event_row_header() -> str:
    return ROW.format("EVENT", "RECEIVED (UTC)", "DESK", "KIND", "TICKET", "STATE", "DETAIL")


def event_line(rec: EventRecord) -> str:
    detail = rec.error or rec.reason or rec.decision.get("outcome", "")
    actions = [a.get("action", "?") for a in rec.actions]
    if actions:
        detail = f"{detail} [{', '.join(actions)}]".strip()
    return ROW.format(
        rec.event.id,
        rec.event.received_at.strftime("%Y-%m-%d %H:%M:%S"),
        rec.event.desk,
        rec.event.kind.value,
        rec.event.ticket_id or "-",
        rec.state.value,
        detail,
    )


def action_key(action: dict[str, Any]) -> str:
    """What an action does, without why or how it went: two runs that do the same thing compare equal."""
    skip = {"rule", "why", "result"}
    parts = [f"{k}={action[k]}" for k in sorted(action) if k not in skip and k != "action"]
    return f"{action.get('action', '?')}({', '.join(parts)})"


def diff_actions(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    """Lines `= same`, `- only the first time`, `+ only now`, each with its rule and reasoning."""
    before_keys = {action_key(a): a for a in before}
    now_keys = {action_key(a): a for a in now}
    lines = []
    for key, action in now_keys.items():
        mark = "=" if key in before_keys else "+"
        lines.append(
            f"  {mark} {key}  [rule: {action.get('rule') or '-'}; {action.get('why') or ''}]"
            + (f"  -> {action['result']}" if action.get("result") else "")
        )
    for key, action in before_keys.items():
        if key not in now_keys:
            lines.append(f"  - {key}  [rule: {action.get('rule') or '-'}; {action.get('why') or ''}]")
    return lines


def print_replay(result: Any, *, dry_run: bool) -> None:
    rec = result.record
    print(
        f"event {rec.event.id} ({rec.event.desk} {rec.event.kind.value} ticket {rec.event.ticket_id or '-'}, "
        f"state {rec.state.value})"
    )
    print(f"  first time: {rec.decision.get('outcome', rec.reason or '(not yet processed)')}")
    print(f"  {'would do now' if dry_run else 'now'}: {result.now.get('outcome', '')}")
    lines = diff_actions(result.before, list(result.now.get("actions", [])))
    print("\n".join(lines) if lines else "  (no actions either time)")


def print_decision(decision: dict[str, Any]) -> None:
    """A triage decision as a person reads it: outcome, each action with its rule and why, the writes."""
    print(f"  outcome: {decision.get('outcome', '')}")
    for action in decision.get("actions", []):
        fields = {k: v for k, v in action.items() if k not in ("action", "rule", "why")}
        print(f"  - {action.get('action')}: {fields}")
        print(f"      rule: {action.get('rule') or '-'}; why: {action.get('why') or '-'}")
    for write in decision.get("writes", []):
        print(f"  write: {write}")
    if decision.get("unresolved_people"):
        print(f"  people not found on the desk: {', '.join(decision['unresolved_people'])}")
