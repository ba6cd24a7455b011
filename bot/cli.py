"""`helpdesk-bot`: the one command users and operators run (see README for each subcommand)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import Settings, get_settings


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helpdesk-bot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("up", help="web + worker + beat on this machine (embedded Redis / sandbox if unset)")
    s.add_argument("--port", type=int, default=8000)
    s = sub.add_parser("web", help="the webhook receiver (gunicorn)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a receiver must be reachable by the desk
    s.add_argument("--workers", type=int, default=None)
    s = sub.add_parser("worker", help="a Celery worker that acts on events")
    s.add_argument("--concurrency", type=int, default=None)
    sub.add_parser("beat", help="the scheduler of periodic sweeps (run exactly one)")
    s = sub.add_parser("flower", help="Flower, the Celery monitoring UI")
    s.add_argument("--port", type=int, default=5555)
    s = sub.add_parser("sandbox", help="serve the fake Zendesk and Jira APIs (seeded demo desks)")
    s.add_argument("--port", type=int, default=8001)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--empty", action="store_true", help="start with no demo data")
    s.add_argument("--bot-url", default=None, help="send signed webhooks to this bot (base URL)")
    sub.add_parser("check-config", help="validate the environment and the policy file; exit 1 on problems")

    s = sub.add_parser("events", help="list recorded events")
    s.add_argument("--desk", choices=["zendesk", "jira"])
    s.add_argument("--state", choices=["queued", "done", "failed", "ignored"])
    s.add_argument("--ticket")
    s.add_argument("--since", type=_parse_time)
    s.add_argument("--until", type=_parse_time)
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true", help="one JSON object per line")

    s = sub.add_parser("replay", help="re-run events against the tickets' current state")
    s.add_argument("event_id", nargs="?")
    s.add_argument("--since", type=_parse_time)
    s.add_argument("--until", type=_parse_time)
    s.add_argument("--dry-run", action="store_true", help="print what would be done; write nothing")

    s = sub.add_parser("triage", help="decide (and with no --dry-run, carry out) triage of one ticket now")
    s.add_argument("ticket", help="ticket id (Zendesk: 123, Jira: SD-12)")
    s.add_argument("--desk", choices=["zendesk", "jira"], help="default: jira for KEY-123 ids, else zendesk")
    s.add_argument("--dry-run", action="store_true", help="print the decision; write nothing")

    s = sub.add_parser("rejected", help="signed deliveries the bot could not read (newest first)")
    s.add_argument("--desk", choices=["zendesk", "jira"], default=None)
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true", help="one JSON object per line, with headers and body")

    s = sub.add_parser("shadow-report", help="agreement of shadow-mode decisions with what agents did, per rule")
    s.add_argument("--since", type=_parse_time, help="only decisions made since (ISO date/time)")
    s.add_argument("--desk", choices=["zendesk", "jira"])

    s = sub.add_parser("sweep", help="run the periodic sweeps once now")
    s.add_argument("--dry-run", action="store_true")
    return p


SERVICES = ("web", "worker", "beat")
"""Long-running parts that refuse to start on a bad configuration rather than fail on every event."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if args.command in SERVICES:
        from bot.checks import all_problems

        problems = all_problems(settings)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"helpdesk-bot {args.command}: not started, fix the configuration first", file=sys.stderr)
            return 1
    handler = COMMANDS[args.command]
    return handler(args, settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import up

    return up(settings, args.port)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from bot.web import serve

    serve(args.port, args.host, args.workers, settings.helpdesk_bot_home)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logs import configure_logging
    from tasks.celery_app import INTAKE_QUEUE, SWEEP_QUEUE, app

    configure_logging(settings.helpdesk_bot_log_level)  # pool processes are forked from here and inherit it

    argv = [
        "--quiet",  # no banner on stdout: every line a worker writes is a JSON log line
        "worker",
        "--loglevel",
        settings.helpdesk_bot_log_level,
        "-Q",
        f"{INTAKE_QUEUE},{SWEEP_QUEUE}",
        "-E",
        "--without-gossip",
        "--without-mingle",
    ]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    app.worker_main(argv)
    return 0


def cmd_beat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logs import configure_logging
    from tasks.celery_app import app

    configure_logging(settings.helpdesk_bot_log_level)

    home = settings.helpdesk_bot_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", settings.helpdesk_bot_log_level, "--schedule", str(home / "beat-schedule")])
    return 0


def cmd_flower(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.celery_app import app

    app.start(["flower", f"--port={args.port}"])
    return 0


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.sandboxes import serve_sandbox

    serve_sandbox(args.host, args.port, seed=not args.empty, bot_url=args.bot_url)
    return 0


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    from bot.checks import all_problems

    problems = all_problems(settings)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("configuration OK")
    return 0


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    from bot.eventlog import State
    from bot.report import event_line, event_row_header
    from tasks.runtime import get_runtime

    log = get_runtime().eventlog
    records = log.query(
        desk=args.desk,
        state=State(args.state) if args.state else None,
        ticket=args.ticket,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    if args.json:
        for rec in records:
            print(
                json.dumps(
                    {
                        "id": rec.event.id,
                        "desk": rec.event.desk,
                        "kind": rec.event.kind.value,
                        "ticket": rec.event.ticket_id,
                        "state": rec.state.value,
                        "received_at": rec.event.received_at.isoformat(),
                        "reason": rec.reason,
                        "error": rec.error,
                        "decision": rec.decision,
                    },
                    ensure_ascii=False,
                )
            )
        return 0
    print(event_row_header())
    for rec in records:
        print(event_line(rec))
    if not records:
        print("(no events)")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from bot.report import print_replay
    from tasks.replay import replay_event
    from tasks.runtime import get_runtime

    runtime = get_runtime()
    if args.event_id:
        ids = [args.event_id]
    elif args.since or args.until:
        ids = runtime.eventlog.ids_between(args.since, args.until, newest_first=False)
    else:
        print("give an EVENT_ID or --since/--until", file=sys.stderr)
        return 2
    status = 0
    for event_id in ids:
        result = replay_event(runtime, event_id, dry_run=args.dry_run)
        if result is None:
            print(f"{event_id}: no such event (expired or never received)", file=sys.stderr)
            status = 1
            continue
        print_replay(result, dry_run=args.dry_run)
    return status


def cmd_triage(args: argparse.Namespace, settings: Settings) -> int:
    import re

    from bot.report import print_decision
    from tasks.runtime import get_runtime
    from tasks.triage import triage_ticket

    desk = args.desk or ("jira" if re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", args.ticket) else "zendesk")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    decision = triage_ticket(
        get_runtime(), desk, args.ticket, plan_key=f"cli-{desk}-{args.ticket}-{stamp}", dry_run=args.dry_run
    )
    print(f"{desk} ticket {args.ticket}{' (dry run: nothing written)' if args.dry_run else ''}")
    print_decision(decision)
    return 0


def cmd_rejected(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.runtime import get_runtime

    runtime = get_runtime()
    shown = 0
    for desk in [args.desk] if args.desk else ["zendesk", "jira"]:
        for raw in runtime.redis.lrange(f"{runtime.prefix}rejected:{desk}", 0, args.limit - 1):
            entry = json.loads(raw)
            shown += 1
            if args.json:
                print(json.dumps(entry, ensure_ascii=False))
            else:
                print(f"{entry['received_at'][:19]}  {desk:<8} {entry['reason']}")
    if not shown and not args.json:
        print("(no rejected deliveries)")
    return 0


def cmd_shadow_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.policy.shadow import ShadowRecord, agreement, format_report
    from connectors.base import HelpdeskError
    from tasks.runtime import get_runtime

    runtime = get_runtime()
    latest: dict[tuple[str, str], dict[str, object]] = {}
    for rec in runtime.eventlog.query(desk=args.desk, since=args.since, limit=100_000):
        shadow = rec.decision.get("shadow")
        if isinstance(shadow, dict):
            latest.setdefault((rec.event.desk, rec.event.ticket_id), shadow)  # newest first: keep the latest
    records = []
    for (desk, ticket_id), shadow in latest.items():
        try:
            ticket = runtime.desk(desk).get_ticket(ticket_id)
        except HelpdeskError as exc:
            print(f"{desk} {ticket_id}: skipped ({exc})", file=sys.stderr)
            continue
        records.append(ShadowRecord.from_decision(shadow, ticket))
    print(format_report(agreement(records)))
    return 0


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.runtime import get_runtime
    from tasks.sweeps import requeue_stale

    found = requeue_stale(get_runtime(), dry_run=args.dry_run)
    verb = "would requeue" if args.dry_run else "requeued"
    for event_id in found:
        print(f"{verb} {event_id} (queued but never processed)")
    print(f"{len(found)} stale event(s) {verb}")
    return 0


COMMANDS = {
    "up": cmd_up,
    "web": cmd_web,
    "worker": cmd_worker,
    "beat": cmd_beat,
    "flower": cmd_flower,
    "sandbox": cmd_sandbox,
    "check-config": cmd_check_config,
    "events": cmd_events,
    "replay": cmd_replay,
    "sweep": cmd_sweep,
    "triage": cmd_triage,
    "shadow-report": cmd_shadow_report,
    "rejected": cmd_rejected,
}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
