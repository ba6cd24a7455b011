"""Follow-up and auto-resolve end to end on both sandbox desks: customers open and answer tickets through the desks'
own APIs, the real worker triages them and reads their replies, and `helpdesk-bot sweep --at …` drives the ladder
day by day (no sleeping). The policy is the packaged default (the ping runbook on too: it must never prompt a
customer the ladder chases) with German public holidays and test settings: each step sent at its due time (no
spread over the day, which test_spread_e2e.py covers), a quick ladder for configuration changes, one with the
approval text and a closing-rules ladder (by tag), Globex exempt, and a chat channel for strike 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
import requests
import yaml

from bot.domain.tickets import NewComment, Role, Status, Ticket, TicketChanges, Visibility
from bot.eventlog import State
from bot.policy import followup
from bot.policy.calendar import calendar_for
from bot.policy.followup import when
from bot.policy.schema import DEFAULT_POLICY, load_policy
from tests.conftest import wait_for
from tests.sandbox_helpers import create_ticket, customer_reply
from tests.stack import Stack, running_stack
from tests.test_runbooks_e2e import created_event

pytestmark = pytest.mark.e2e
DESKS = ("zendesk", "jira")
STRIKES = ["helpdesk-bot-strike-1", "helpdesk-bot-strike-2", "helpdesk-bot-strike-3"]


def write_policy(path: Path) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    data["calendar"]["country"] = "DE"
    data["sweeps"] = {"spread": False}  # each step at its due time, day by day (the spread: test_spread_e2e.py)
    for desk in DESKS:  # the sweeps here run back to back: the API budget is not what is tested
        data["desks"][desk]["api_budget"] = {"per_minute": 100_000}
    data["followup"]["ladders"] = [
        {"name": "approvals", "match": {"tags": ["awaiting-approval"]}, "kind": "quick", "approval": True},
        {"name": "jsm-closing", "match": {"tags": ["closing-rules"]}, "kind": "closing_rules"},
        {"name": "quick-config", "match": {"request_types": ["configuration_change"]}, "kind": "quick"},
    ]
    data["followup"]["exempt"] = {"organizations": ["globex"]}
    path.write_text(yaml.safe_dump(data))
    return path


def with_chat(path: Path, sandbox_url: str) -> None:
    """Strike 1's chat attempt goes to the sandbox's Slack webhook. Set once the sandbox's address is known: each
    `helpdesk-bot sweep` reads the policy afresh (the workers, started before, never post to chat)."""
    data = yaml.safe_load(path.read_text())
    data.setdefault("chat", {}).setdefault("webhooks", {})["customers"] = f"{sandbox_url}/services/T0001/B0001/secret"
    data["followup"]["chat"] = {"channel": "customers"}
    path.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("followup")
    policy = write_policy(home / "policy.yaml")
    with running_stack(home, extra_env={"HELPDESK_BOT_POLICY": str(policy)}) as running:
        with_chat(policy, running.sandbox_url)
        yield running


def chat_posts(stack: Stack, ticket_id: str) -> list[str]:
    """What the sandbox's chat webhooks received about `ticket_id`."""
    posts = requests.get(f"{stack.sandbox_url}/_sandbox/chat/posts", timeout=10).json()
    return [p["text"] for p in posts if f"#{ticket_id} " in (p["text"] or "")]


def calendar(stack: Stack) -> Any:
    return calendar_for(load_policy(Path(stack.env["HELPDESK_BOT_POLICY"])), "zendesk")


def monday(stack: Stack, weeks: int) -> datetime:
    """10:00 UTC on the first Monday at least `weeks` weeks ahead whose Monday to Friday are all working days."""
    cal = calendar(stack)
    today = datetime.now(UTC).date()
    day = today + timedelta(days=7 * weeks + (7 - today.weekday()))
    while not all(cal.is_working_day(day + timedelta(days=n)) for n in range(5)):
        day += timedelta(days=7)
    return datetime.combine(day, time(10), tzinfo=UTC)


LADDER_OWNS = "pending: the follow-up ladder contacts the customer (no prompt beside its strikes)"


def sweep(stack: Stack, desk: str, at: datetime, ticket_id: str) -> list[dict[str, Any]]:
    """`helpdesk-bot sweep --desk D --at AT --json`: the follow-up rows about `ticket_id`. The ping runbook runs in
    the same sweep: it never prompts a ticket the ladder chases (only an exempt one)."""
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    mine = [r for r in rows if r["ticket"] == ticket_id]
    followups = [r for r in mine if r["runbook"].startswith("followup-")]
    exempt = any("exempt" in r["outcome"] for r in followups)
    assert exempt or not [r for r in mine if r["runbook"] == "ping" and r["outcome"].startswith("prompt")], mine
    return followups


def ping_outcomes(stack: Stack, desk: str, at: datetime, ticket_id: str) -> list[str]:
    """What the ping runbook decided about `ticket_id` in a dry-run sweep as of `at`."""
    done = stack.cli("sweep", "--desk", desk, "--at", at.isoformat(), "--json", "--dry-run")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r["outcome"] for r in rows if r["ticket"] == ticket_id and r["runbook"] == "ping"]


def outcomes(rows: list[dict[str, Any]], runbook: str = "followup-ladder") -> list[str]:
    return [r["outcome"] for r in rows if r["runbook"] == runbook]


def waiting_ticket(stack: Stack, desk: str, subject: str, customer: str = "cathy@acme.test") -> str:
    """A technical-support ticket: triage answers it asking for details, so it waits on the customer."""
    ticket_id = create_ticket(stack.sandbox_url, desk, customer, subject, "It shows an error since today.")
    created_event(stack, desk, ticket_id)
    assert stack.desk(desk).get_ticket(ticket_id).status is Status.PENDING
    return ticket_id


def reply_and_wait(stack: Stack, desk: str, ticket_id: str, body: str) -> str:
    """The customer answers; returns what the bot's `followup-reply` runbook did about it. Zendesk sends two events
    for one reply (status changed, comment added): one acts, the other finds the reply already handled."""
    before = set(stack.log.ticket_event_ids(desk, ticket_id))
    customer_reply(stack.sandbox_url, desk, "cathy@acme.test", ticket_id, body)

    def handled() -> str | None:
        new = [i for i in stack.log.ticket_event_ids(desk, ticket_id) if i not in before]
        for rec in stack.log.records(new):
            assert rec.state is not State.FAILED, rec.error
            for result in rec.decision.runbooks if rec.decision and rec.state is State.DONE else ():
                if result.runbook == "followup-reply" and result.outcome != "customer reply already handled":
                    return result.outcome
        return None

    outcome: str = wait_for(handled, timeout=40, interval=0.2)
    return outcome


def bot_public(ticket: Ticket) -> list[str]:
    return [c.body for c in ticket.comments if c.public and c.author.role is Role.BOT]


def notes(ticket: Ticket) -> list[str]:
    """What agents read of the bot's steps: internal comments, and the latest step's notes where the desk keeps
    them in its follow-up field (both desks with `followup.step_notes: field`: one update per step)."""
    kept = followup.field_note(ticket)
    return [c.body for c in ticket.comments if not c.public] + ([kept] if kept else [])


def writes_to(stack: Stack, desk: str, ticket_id: str) -> int:
    """The bot's writes that reached the desk on the ticket's own routes, counted at the sandbox (Jira's paths name
    the issue; Zendesk's bulk writes do not, so this counts Jira's)."""
    return sum(
        1
        for a in stack.sandboxes[desk].control.arrivals
        if not a.key.startswith("GET ") and a.login == "bot@example.com" and ticket_id in a.path.split("/")
    )


def resolution(stack: Stack, desk: str, ticket_id: str) -> str | None:
    if desk == "jira":
        issue = stack.sandboxes["jira"].state.issues[ticket_id]  # type: ignore[attr-defined]
        return str(issue["fields"]["resolution"]["name"]) if issue["fields"]["resolution"] else None
    raw = stack.sandboxes["zendesk"].state.tickets[int(ticket_id)]  # type: ignore[attr-defined]
    return next((f["value"] for f in raw["custom_fields"] if f["id"] == 900002), None)


@pytest.mark.parametrize("desk", DESKS)
def test_three_strikes_then_resolved_as_user_not_responded(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Export fails with an error")
    desk_api = stack.desk(desk)
    first_response = len(bot_public(desk_api.get_ticket(ticket_id)))
    mon = monday(stack, 1)
    today = sweep(stack, desk, datetime.now(UTC) + timedelta(hours=2), ticket_id)
    assert outcomes(today)[0].startswith("waiting on the customer: strike-1 due")  # the next business day
    for day, tags in enumerate(STRIKES):
        written = writes_to(stack, desk, ticket_id)
        rows = sweep(stack, desk, mon + timedelta(days=day), ticket_id)
        written = writes_to(stack, desk, ticket_id) - written
        assert outcomes(rows) == [f"strike {day + 1}/3 sent"], rows
        ticket = desk_api.get_ticket(ticket_id)
        assert tags in ticket.tags and ticket.status is Status.PENDING
        if day == 2:  # strike 3 is out: the ping runbook, in the same sweeps, never prompts the customer
            assert ping_outcomes(stack, desk, mon + timedelta(days=day, hours=6), ticket_id) == [LADDER_OWNS]
        if day == 0:  # the chat attempt: posted to the customer's channel, and documented on the ticket
            [chat] = chat_posts(stack, ticket_id)
            assert chat.startswith("Hello Cathy") and "Export fails" in chat
            assert any("posted to chat channel 'customers'" in n for n in notes(ticket))
        if day == 1:  # what an agent sees with `helpdesk-bot status`
            status = stack.cli("status", ticket_id)
            assert status.returncode == 0, status.stderr
            assert "waiting on customer since" in status.stdout
            assert "strikes sent: 2 (helpdesk-bot-strike-1, helpdesk-bot-strike-2)" in status.stdout
            wednesday = mon + timedelta(days=2)
            assert f"next: strike-3 at Wed {wednesday.day} {wednesday:%b %Y} 10:00 UTC" in status.stdout
            internal = notes(ticket)
            assert any("Follow-up strike 2/3 sent" in n and "strike 3 due" in n for n in internal), internal
            [task] = [n[n.index("Task for") :] for n in internal if "Task for" in n]  # a call task for the assignee
            assert "voicemail" in task and f"ticket number {ticket_id}, Export fails" in task
            assert "Service Desk" in task
            # one update per step: the message is its comment, the notes and the call task ride in the follow-up field
            assert not [c for c in ticket.comments if not c.public and "strike 2/3" in c.body]
            assert "Task for" in followup.field_note(ticket) and "strike-2" in (ticket.followup_state or "")
            if desk == "jira":  # one PUT carries the message, the strike label and the field
                assert written == 1, written
        if day == 0:  # a second sweep the same afternoon does nothing more
            again = sweep(stack, desk, mon + timedelta(hours=5), ticket_id)
            assert [r["writes_sent"] for r in again] == [0] and "strike-2 due" in outcomes(again)[0]
    assert len(chat_posts(stack, ticket_id)) == 1  # strikes 2 and 3 are no chat messages

    rows = sweep(stack, desk, mon + timedelta(days=3), ticket_id)
    assert outcomes(rows) == ["resolved: User not responded"]
    ticket = desk_api.get_ticket(ticket_id)
    assert ticket.status is Status.SOLVED
    assert resolution(stack, desk, ticket_id) == "User not responded"
    assert set(STRIKES) | {"closure-user-not-responded"} <= set(ticket.tags)
    public = bot_public(ticket)[first_response:]
    assert len(public) == 4 and "Good day Cathy" in public[2] and "reply within 7 days" in public[3]


@pytest.mark.parametrize("desk", DESKS)
def test_a_reply_after_strike_two_restarts_the_count(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Login error on the portal")
    desk_api = stack.desk(desk)
    mon = monday(stack, 3)
    for day in (0, 1):
        assert outcomes(sweep(stack, desk, mon + timedelta(days=day), ticket_id)) == [f"strike {day + 1}/3 sent"]
    outcome = reply_and_wait(stack, desk, ticket_id, "I use Firefox 128 on Windows.")
    assert outcome == "customer replied: strikes cleared"
    ticket = desk_api.get_ticket(ticket_id)
    assert ticket.status is Status.OPEN and not set(STRIKES) & set(ticket.tags)
    assert "The customer replied: follow-ups reset, back to the agent." in notes(ticket)[-1]
    assert outcomes(sweep(stack, desk, mon + timedelta(days=2), ticket_id)) == []  # waiting on support now

    # The agent asks one more question and waits again: strike 1 comes the next business day, not strike 3.
    ticket = desk_api.get_ticket(ticket_id)
    desk_api.apply(
        ticket, TicketChanges(status=Status.PENDING, comment=NewComment("Which version?", Visibility.PUBLIC))
    )
    rows = sweep(stack, desk, mon + timedelta(days=3), ticket_id)
    assert outcomes(rows) == ["strike 1/3 sent"]
    tags = set(desk_api.get_ticket(ticket_id).tags)
    assert "helpdesk-bot-strike-1" in tags and "helpdesk-bot-strike-2" not in tags


def holiday_ahead(stack: Stack) -> date:
    """The first public holiday at least ten days ahead whose eve is a working day (the customer's return day)."""
    cal = calendar(stack)
    today = datetime.now(UTC).date()
    found = holidays.country_holidays("DE", years=[today.year, today.year + 1])
    return next(
        d for d in sorted(found) if d >= today + timedelta(days=10) and cal.is_working_day(d - timedelta(days=1))
    )


@pytest.mark.parametrize("desk", DESKS)
def test_out_of_office_until_the_eve_of_a_holiday_holds_then_strikes_restart(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Sync error after the update")
    cal = calendar(stack)
    holiday = holiday_ahead(stack)
    back = holiday - timedelta(days=1)
    reactivation = cal.business_day_at(datetime.combine(back, time(12), tzinfo=UTC), 1, time(10))
    assert reactivation.date() > holiday  # the holiday itself is skipped
    body = f"Automatic reply: I am out of the office until {back.day} {back:%B %Y} with no access to email."
    outcome = reply_and_wait(stack, desk, ticket_id, body)
    assert outcome.startswith("out of office: on hold until ")
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.ON_HOLD and "helpdesk-bot-on-hold" in ticket.tags
    assert (
        notes(ticket)[-1].startswith("First Customer Follow-up")
        and "Still needed from the customer" in notes(ticket)[-1]
    )

    status = stack.cli("status", ticket_id).stdout  # what an agent sees: on hold until the reactivation date
    assert "waiting on customer since" in status, status
    assert f"on hold (out of office) until {when(reactivation)}" in status
    assert f"next: reactivate at {when(reactivation)}" in status

    on_the_day_back = datetime.combine(back, time(10), tzinfo=UTC)
    assert outcomes(sweep(stack, desk, on_the_day_back, ticket_id))[0].startswith("waiting on the customer: reactivate")
    assert outcomes(sweep(stack, desk, reactivation, ticket_id)) == ["hold ended: waiting on the customer again"]
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.PENDING and "helpdesk-bot-on-hold" not in ticket.tags
    assert outcomes(sweep(stack, desk, reactivation + timedelta(minutes=5), ticket_id)) == ["strike 1/3 sent"]


@pytest.mark.parametrize("desk", DESKS)
def test_a_confirmation_resolves_and_still_not_working_does_not(stack: Stack, desk: str) -> None:
    mon = monday(stack, 5)
    fixed = waiting_ticket(stack, desk, "Upload error on large files")
    assert outcomes(sweep(stack, desk, mon, fixed)) == ["strike 1/3 sent"]
    assert reply_and_wait(stack, desk, fixed, "Still not working, same error.") == "customer replied: strikes cleared"
    assert stack.desk(desk).get_ticket(fixed).status is Status.OPEN
    ticket = stack.desk(desk).get_ticket(fixed)
    stack.desk(desk).apply(
        ticket, TicketChanges(status=Status.PENDING, comment=NewComment("Try again?", Visibility.PUBLIC))
    )
    outcome = reply_and_wait(stack, desk, fixed, "Thanks, that fixed it! You can close this ticket.")
    assert outcome == "confirmed by the customer: resolved (Done)"
    ticket = stack.desk(desk).get_ticket(fixed)
    assert ticket.status is Status.SOLVED and resolution(stack, desk, fixed) == "Done"
    assert "thank you for confirming" in bot_public(ticket)[-1]


@pytest.mark.parametrize("desk", DESKS)
def test_the_quick_rule_exemptions_and_the_pause_tag(stack: Stack, desk: str) -> None:
    api = stack.desk(desk)
    config = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", "Please enable SSO", "For our whole team.")
    created_event(stack, desk, config)
    api.apply(
        api.get_ticket(config), TicketChanges(status=Status.PENDING, comment=NewComment("Your IdP?", Visibility.PUBLIC))
    )
    paused = waiting_ticket(stack, desk, "Report error in March")
    api.apply(api.get_ticket(paused), TicketChanges(add_tags=("helpdesk-bot-pause",)))
    vip = waiting_ticket(stack, desk, "Export error for Globex", customer="gary@globex.test")

    mon = monday(stack, 7)
    assert outcomes(sweep(stack, desk, mon, config)) == ["resolved: User not responded"]
    ticket = api.get_ticket(config)
    assert ticket.status is Status.SOLVED and resolution(stack, desk, config) == "User not responded"
    assert "we still need the information we asked for" in bot_public(ticket)[-1]
    for ticket_id, why in ((paused, "paused"), (vip, "exempt (organization globex)")):
        for day in range(4):
            rows = sweep(stack, desk, mon + timedelta(days=day), ticket_id)
            assert [r["writes_sent"] for r in rows] == [0] and why in outcomes(rows)[0]
        assert api.get_ticket(ticket_id).status is Status.PENDING


def test_jsm_reopens_on_a_reply_within_seven_days_and_closes_after(stack: Stack) -> None:
    mon = monday(stack, 9)
    api = stack.desk("jira")
    reopened = waiting_ticket(stack, "jira", "VPN error at login")
    closed = waiting_ticket(stack, "jira", "Printer error on floor 2")
    for day in range(4):
        sweep(stack, "jira", mon + timedelta(days=day), reopened)
    for ticket_id in (reopened, closed):
        assert api.get_ticket(ticket_id).status is Status.SOLVED
    outcome = reply_and_wait(stack, "jira", reopened, "Sorry, I was travelling: it is Chrome 120.")
    assert outcome == "reopened"
    ticket = api.get_ticket(reopened)
    assert ticket.status is Status.OPEN and "closure-user-not-responded" not in ticket.tags
    assert not set(STRIKES) & set(ticket.tags)  # back to the agent with the strikes cleared
    assert "Reopened: the customer replied within the 7-day reopen window." in notes(ticket)[-1]

    thursday = mon + timedelta(days=3)
    early = sweep(stack, "jira", thursday + timedelta(days=6), closed)
    assert outcomes(early, "followup-close")[0].startswith("resolved: closes") and early[0]["writes_sent"] == 0
    rows = sweep(stack, "jira", thursday + timedelta(days=7, minutes=1), closed)
    assert outcomes(rows, "followup-close") == ["closed after the reopen window"]
    assert api.get_ticket(closed).status is Status.CLOSED
    assert resolution(stack, "jira", closed) == "User not responded"  # closing keeps the resolution


def test_status_of_a_paused_ticket_and_user_errors(stack: Stack) -> None:
    ticket_id = waiting_ticket(stack, "zendesk", "Dashboard error since Monday")
    api = stack.desk("zendesk")
    api.apply(api.get_ticket(ticket_id), TicketChanges(add_tags=("helpdesk-bot-pause",)))
    shown = stack.cli("status", ticket_id, "--json")
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert (state["waiting_on"], state["blocked"], state["strikes"]) == (
        "customer",
        "paused (tag helpdesk-bot-pause)",
        0,
    )
    assert "follow-up paused" in stack.cli("status", ticket_id).stdout
    for args, message in ((("status", "abc"), "not a Zendesk ticket id"), (("status", "999999"), "")):
        failed = stack.cli(*args)
        assert failed.returncode == 2 and "Traceback" not in failed.stderr
        assert failed.stderr.strip().count("\n") == 0 and message in failed.stderr


def agent_asks(stack: Stack, desk: str, ticket_id: str, body: str, **changes: Any) -> None:
    """Support writes to the customer in public and leaves the ticket waiting on them."""
    api = stack.desk(desk)
    ticket = api.get_ticket(ticket_id)
    status = None if ticket.status is Status.PENDING else Status.PENDING
    api.apply(ticket, TicketChanges(status=status, comment=NewComment(body, Visibility.PUBLIC), **changes))


@pytest.mark.parametrize("desk", DESKS)
def test_closing_rule_no_answer_to_a_request_to_confirm(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Export error after the fix")
    agent_asks(stack, desk, ticket_id, "We have reset your export settings. Did that fix it? Can we close this?")
    status = stack.cli("status", ticket_id)
    assert "next: resolve-unconfirmed at" in status.stdout and "because: asked to confirm" in status.stdout
    rows = sweep(stack, desk, monday(stack, 11), ticket_id)
    assert outcomes(rows) == ["resolved: Done (resolved-unconfirmed)"]  # no strikes: the customer was asked
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.SOLVED and resolution(stack, desk, ticket_id) == "Done"
    assert "we asked whether your request" in bot_public(ticket)[-1]
    assert any("closing rule: no answer for 1 business day(s)" in n for n in notes(ticket))
    assert chat_posts(stack, ticket_id) == []


@pytest.mark.parametrize("desk", DESKS)
def test_closing_rule_only_a_low_priority_dev_bug_left(stack: Stack, desk: str) -> None:
    ticket_id = waiting_ticket(stack, desk, "Export error in old browsers")
    escalated = stack.cli("escalate-bug", "--desk", desk, ticket_id)
    assert escalated.returncode == 0, escalated.stderr
    [bug] = [
        i
        for i in stack.sandboxes["jira"].state.issues.values()  # type: ignore[attr-defined]
        if f"helpdesk-bot-ref-{desk}-{ticket_id}".lower() in i["fields"]["labels"]
    ]
    jira = stack.desk("jira")
    wait_for(lambda: "helpdesk-bot-bug-linked" in stack.desk(desk).get_ticket(ticket_id).tags, timeout=20)
    mon = monday(stack, 13)
    # A bug of normal priority is not "only a low-priority bug left": the ladder chases the customer.
    assert outcomes(sweep(stack, desk, mon, ticket_id)) == ["strike 1/3 sent"]
    jira.apply(jira.get_ticket(bug["key"]), TicketChanges(priority="low"))
    status = stack.cli("status", "--desk", desk, ticket_id)
    assert f"waiting on development ({bug['key']} (Low))" in status.stdout, status.stdout
    rows = sweep(stack, desk, mon + timedelta(hours=1), ticket_id)
    assert outcomes(rows) == ["resolved: Known error (resolved-dev-bug)"]
    ticket = stack.desk(desk).get_ticket(ticket_id)
    assert ticket.status is Status.SOLVED and resolution(stack, desk, ticket_id) == "Known error"
    assert bug["key"] in bot_public(ticket)[-1] and "helpdesk-bot-strike-1" not in ticket.tags
    assert jira.get_ticket(bug["key"]).status not in (Status.SOLVED, Status.CLOSED)  # the bug stays open


@pytest.mark.parametrize("desk", DESKS)
def test_closing_rules_ladder_two_ignored_attempts_and_the_approval_text(stack: Stack, desk: str) -> None:
    ignored = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", "Which plan do we have", "Please check.")
    created_event(stack, desk, ignored)
    agent_asks(stack, desk, ignored, "Which account is it about?", add_tags=("closing-rules",))
    mon = monday(stack, 15)
    rows = sweep(stack, desk, mon, ignored)
    assert outcomes(rows) == ["waiting on the customer: 1 of 2 contact attempts unanswered"]
    assert rows[0]["writes_sent"] == 0  # a closing-rules ladder sends no reminders of its own
    agent_asks(stack, desk, ignored, "Just checking in: which account is it about?")
    rows = sweep(stack, desk, mon + timedelta(days=1), ignored)
    assert outcomes(rows) == ["resolved: User not responded"]
    ticket = stack.desk(desk).get_ticket(ignored)
    assert ticket.status is Status.SOLVED and resolution(stack, desk, ignored) == "User not responded"
    assert "we have tried 2 times to reach you" in bot_public(ticket)[-1]

    approval = create_ticket(stack.sandbox_url, desk, "cathy@acme.test", "New laptop for Cathy", "Please order.")
    created_event(stack, desk, approval)
    agent_asks(stack, desk, approval, "We need your manager's approval.", add_tags=("awaiting-approval",))
    assert outcomes(sweep(stack, desk, mon, approval)) == ["resolved: User not responded"]
    text = bot_public(stack.desk(desk).get_ticket(approval))[-1]
    assert "The approver has 7 days to send the approval" in text and "a new request is needed" in text
