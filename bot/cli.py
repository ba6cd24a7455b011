"""`helpdesk-bot`: the one command users and operators run (see README for each subcommand)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

from bot.config import Settings, get_settings


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date/time: {text!r} (e.g. 2026-03-02T10:00+01:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class UserError(Exception):
    """A mistake or a missing piece the user can fix: one line on stderr, exit code 2, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog.split()[0]} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="helpdesk-bot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("up", help="web + worker + beat on this machine (embedded Redis / sandbox if unset)")
    s.add_argument("--port", type=int, default=8000)
    s = sub.add_parser("web", help="the webhook receiver (gunicorn)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a receiver must be reachable by the desk
    s.add_argument("--workers", type=int, default=None)
    s = sub.add_parser("worker", help="a Celery worker that acts on events")
    s.add_argument("--concurrency", type=int, default=None)
    sub.add_parser("beat", help="the scheduler of periodic sweeps (a second one waits for the first's lock)")
    s = sub.add_parser("flower", help="Flower, the Celery monitoring UI")
    s.add_argument("--port", type=int, default=5555)
    s.add_argument("--address", default="127.0.0.1", help="beyond loopback only with FLOWER_BASIC_AUTH set")
    s = sub.add_parser("health", help="exit 0 if this host's ROLE is healthy (container health checks)")
    s.add_argument("role", choices=["web", "worker", "beat", "flower"])
    s.add_argument("--port", type=int, default=None, help="web: 8000, flower: 5555")
    s = sub.add_parser("sandbox", help="serve the fake Zendesk and Jira APIs (seeded demo desks)")
    s.add_argument("--port", type=int, default=8001)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--empty", action="store_true", help="start with no demo data")
    s.add_argument("--bot-url", default=None, help="send signed webhooks to this bot (base URL)")
    s.add_argument(
        "--jira-mode",
        choices=["cloud", "datacenter"],
        default="cloud",
        help="which Jira deployment to fake: Cloud (REST v2+v3) or Data Center (REST v2 only)",
    )
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
    s.add_argument("--queue", action="store_true", help="let a worker run the replay (a task visible in Flower)")

    s = sub.add_parser("triage", help="decide (and with no --dry-run, carry out) triage of one ticket now")
    s.add_argument("ticket", help="ticket id (Zendesk: 123, Jira: SD-12)")
    s.add_argument("--desk", choices=["zendesk", "jira"], help="default: jira for KEY-123 ids, else zendesk")
    s.add_argument("--dry-run", action="store_true", help="print the decision; write nothing")

    s = sub.add_parser("escalate-bug", help="file the ticket's bug in the dev project now (once per ticket)")
    s.add_argument("ticket", help="ticket id (Zendesk: 123, Jira: SD-12)")
    s.add_argument("--desk", choices=["zendesk", "jira"], help="default: jira for KEY-123 ids, else zendesk")
    s.add_argument("--dry-run", action="store_true", help="print the bug that would be filed; write nothing")

    s = sub.add_parser("status", help="a ticket's follow-up state: whose move, strikes sent, what comes next and when")
    s.add_argument("ticket", help="ticket id (Zendesk: 123, Jira: SD-12)")
    s.add_argument("--desk", choices=["zendesk", "jira"], help="default: jira for KEY-123 ids, else zendesk")
    s.add_argument("--json", action="store_true", help="one JSON object")

    s = sub.add_parser("rejected", help="signed deliveries the bot could not read (newest first)")
    s.add_argument("--desk", choices=["zendesk", "jira"], default=None)
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--json", action="store_true", help="one JSON object per line, with headers and body")

    s = sub.add_parser("shadow-report", help="agreement of shadow-mode decisions with what agents did, per rule")
    s.add_argument("--since", type=_parse_time, help="only decisions made since (ISO date/time)")
    s.add_argument("--desk", choices=["zendesk", "jira"])

    s = sub.add_parser("sweep", help="run the periodic runbooks (and the stale-event requeue) once")
    s.add_argument("--desk", choices=["zendesk", "jira"], help="default: every configured desk")
    s.add_argument("--dry-run", action="store_true", help="print what each runbook would do; write nothing")
    s.add_argument("--at", type=_parse_time, help="decide as of this instant (ISO-8601), e.g. next Monday 09:00")
    s.add_argument("--json", action="store_true", help="one JSON object per ticket and runbook")
    return p


SERVICES = ("web", "worker", "beat")
"""Long-running parts that refuse to start on a bad configuration rather than fail on every event."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors end in one line on stderr and exit code 2, never a traceback."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # inside the try: a reader that went away surfaces here, not at exit
        return code
    except BrokenPipeError:
        # Output piped into `head` that stopped reading: end quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UserError as exc:
        print(f"helpdesk-bot: {exc}", file=sys.stderr)
        return 2


def _run(argv: Sequence[str] | None) -> int:
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
    try:
        return handler(args, settings)
    except Exception as exc:
        known = _user_error(exc, settings)
        if known is None:
            raise
        raise UserError(known) from exc


def _user_error(exc: Exception, settings: Settings) -> str | None:
    """The one-line explanation of an error the user can act on, or None for a bug (a traceback)."""
    import redis

    from bot.domain.errors import HelpdeskError
    from bot.locks import LockBusy
    from bot.policy.schema import PolicyError
    from tasks.replay import UnknownEvent
    from tasks.runtime import DeskNotConfigured

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return (
            f"Redis does not answer at {settings.resolved_redis_url()} ({exc}); start `helpdesk-bot up` with this "
            "HELPDESK_BOT_HOME, or set REDIS_URL"
        )
    if isinstance(exc, DeskNotConfigured):
        return f"{exc} (start `helpdesk-bot up` with this HELPDESK_BOT_HOME for the sandbox, or set it)"
    if isinstance(exc, LockBusy):
        return (
            "a worker is handling this ticket right now (its lock is held); try again in a moment, or use "
            "`replay --queue` to let a worker replay it when the ticket is free"
        )
    if isinstance(exc, UnknownEvent | HelpdeskError | PolicyError):
        return str(exc).replace("\n", "; ")
    return None


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
    # The scheduler (celery-redbeat) keeps the schedule and its lock in Redis: no local schedule file.
    app.start(["beat", "--loglevel", settings.helpdesk_bot_log_level])
    return 0


def cmd_flower(args: argparse.Namespace, settings: Settings) -> int:
    import ipaddress

    from tasks.celery_app import app

    try:
        loopback = args.address == "localhost" or ipaddress.ip_address(args.address).is_loopback
    except ValueError:  # a host name: it may resolve to anything, so it counts as open
        loopback = False
    if not loopback and not settings.flower_basic_auth:
        # Flower shows every task's arguments (ticket ids, desks) and can revoke tasks: never open to all.
        raise UserError(f"flower: set FLOWER_BASIC_AUTH (user:password) to listen on {args.address}")
    app.start(["flower", f"--address={args.address}", f"--port={args.port}"])  # Flower reads FLOWER_BASIC_AUTH
    return 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from bot import health

    if args.role == "web":
        ok, message = health.check_http(f"http://127.0.0.1:{args.port or 8000}/readyz")
    elif args.role == "flower":
        ok, message = health.check_http(f"http://127.0.0.1:{args.port or 5555}/healthcheck")
    else:
        from tasks.celery_app import app

        ok, message = health.check_worker(app) if args.role == "worker" else health.check_beat(app)
    print(message)
    return 0 if ok else 1


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.sandboxes import serve_sandbox

    serve_sandbox(args.host, args.port, seed=not args.empty, bot_url=args.bot_url, jira_mode=args.jira_mode)
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
    from bot.report import event_lines, event_row_header, record_json
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
            print(json.dumps(record_json(rec), ensure_ascii=False, default=str))
        return 0
    print(event_row_header())
    for rec in records:
        print("\n".join(event_lines(rec)))
    if not records:
        print("(no events)")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from bot.report import print_replay
    from tasks.replay import replay_event, replay_task
    from tasks.runtime import get_runtime

    if args.queue and args.dry_run:
        raise UserError("--queue hands the replay to a worker, which writes; use --dry-run alone to preview")
    runtime = get_runtime()
    if args.event_id:
        ids = [args.event_id]
    elif args.since or args.until:
        ids = runtime.eventlog.ids_between(args.since, args.until, newest_first=False)
    else:
        raise UserError("give an EVENT_ID or --since/--until")
    for event_id in ids:
        if args.queue:
            if runtime.eventlog.get(event_id) is None:
                raise UserError(f"{event_id}: no such event (expired or never received)")
            task = replay_task.delay(event_id)
            print(f"{event_id}: queued for a worker (task {task.id}); `helpdesk-bot events` shows the outcome")
            continue
        print_replay(replay_event(runtime, event_id, dry_run=args.dry_run), dry_run=args.dry_run)
    if not ids:
        print("(no events in that time range)")
    return 0


def _run_one_runbook(args: argparse.Namespace, runbook: str, key: str, facts: dict[str, object]) -> int:
    """`triage` and `escalate-bug`: one runbook on one ticket now, through the worker's own path."""
    from bot.report import print_decision
    from tasks import registry
    from tasks.pipeline import Run, run_runbooks
    from tasks.runtime import get_runtime

    desk = _desk_of(args.ticket, args.desk)
    now = datetime.now(UTC)
    run = Run(
        key=key.format(desk=desk, ticket=args.ticket, now=now), now=now, source="cli", dry_run=args.dry_run, facts=facts
    )
    decision = run_runbooks(get_runtime(), desk, args.ticket, (registry.named(runbook),), run, empty="")
    print(f"{desk} ticket {args.ticket}{' (dry run: nothing written)' if args.dry_run else ''}")
    print_decision(decision)
    return 0


def cmd_triage(args: argparse.Namespace, settings: Settings) -> int:
    return _run_one_runbook(args, "triage", "cli-{desk}-{ticket}-{now:%Y%m%dT%H%M%S%f}", {})


def cmd_escalate_bug(args: argparse.Namespace, settings: Settings) -> int:
    # One plan key per ticket: a second escalate-bug resumes or finds the first bug instead of filing another.
    return _run_one_runbook(args, "linked-bug", "escalate-{desk}-{ticket}", {"forced": True})


def _desk_of(ticket: str, given: str | None) -> str:
    import re

    return given or ("jira" if re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", ticket) else "zendesk")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from bot.policy.followup import LINKED_BUG, decide_ladder, standing
    from bot.policy.runbook import Situation
    from bot.report import standing_json, standing_lines
    from tasks.followup import linked_bug
    from tasks.runtime import get_runtime

    desk = _desk_of(args.ticket, args.desk)
    if desk == "zendesk" and not args.ticket.isdigit():
        raise UserError(f"{args.ticket!r} is not a Zendesk ticket id (a number); Jira keys look like SD-12")
    runtime = get_runtime()
    ticket = runtime.desk(desk).get_ticket(args.ticket)
    bug = linked_bug(runtime, ticket)
    state = standing(ticket, runtime.policy, desk, bug)
    # When the next step reaches the customer (their business hours, the ticket's slot): what a sweep would say now.
    verdict = decide_ladder(Situation(desk, ticket, runtime.policy, datetime.now(UTC), facts={LINKED_BUG: bug}))
    sends = verdict.due if verdict.due is not None and verdict.due != state.next_at else None
    if args.json:
        print(json.dumps(standing_json(ticket, state, sends), ensure_ascii=False))
    else:
        print("\n".join(standing_lines(ticket, state, sends)))
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
    from bot.domain.errors import HelpdeskError
    from bot.policy.shadow import ShadowRecord, agreement, format_report
    from tasks.runtime import get_runtime

    runtime = get_runtime()
    latest: dict[tuple[str, str], dict[str, object]] = {}
    for rec in runtime.eventlog.query(desk=args.desk, since=args.since, limit=100_000):
        for result in rec.decision.runbooks if rec.decision else ():
            if result.shadow is not None:  # newest first: keep the latest
                latest.setdefault((rec.event.desk, rec.event.ticket_id), dict(result.shadow))
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
    from bot.report import print_sweep, sweep_json, sweep_progress_bar
    from tasks.budget import sweep_calls
    from tasks.runtime import get_runtime
    from tasks.sweeps import requeue_stale, sweep_desk

    desks = [args.desk] if args.desk else settings.enabled_desks()
    if not desks:
        raise UserError("no desk is configured: set ZENDESK_URL/JIRA_URL, or run `helpdesk-bot up` with this home")
    runtime = get_runtime()
    now = args.at or datetime.now(UTC)
    stale = requeue_stale(runtime, dry_run=args.dry_run, now=now)
    if args.json:
        rows = (row for desk in desks for row in sweep_desk(runtime, desk, now, dry_run=args.dry_run))
        with sweep_calls():  # like beat's sweeps, only the sweeps' share of each desk's API budget
            for row in rows:
                print(json.dumps(sweep_json(row), ensure_ascii=False), flush=True)
        return 0
    print(f"sweep as of {now.isoformat(timespec='minutes')}{' (dry run: nothing written)' if args.dry_run else ''}")
    with sweep_calls(), sweep_progress_bar() as progress:
        print_sweep(
            row for desk in desks for row in sweep_desk(runtime, desk, now, dry_run=args.dry_run, progress=progress)
        )
    verb = "would requeue" if args.dry_run else "requeued"
    for event_id in stale:
        print(f"{verb} {event_id} (queued but never processed)")
    print(f"{len(stale)} stale event(s) {verb}")
    return 0


COMMANDS = {
    "up": cmd_up,
    "web": cmd_web,
    "worker": cmd_worker,
    "beat": cmd_beat,
    "flower": cmd_flower,
    "health": cmd_health,
    "sandbox": cmd_sandbox,
    "check-config": cmd_check_config,
    "events": cmd_events,
    "replay": cmd_replay,
    "sweep": cmd_sweep,
    "triage": cmd_triage,
    "escalate-bug": cmd_escalate_bug,
    "status": cmd_status,
    "shadow-report": cmd_shadow_report,
    "rejected": cmd_rejected,
}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
