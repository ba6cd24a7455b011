"""Shadow mode: the bot decides and records but writes nothing; shadow-report measures agreement."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml

from bot.domain.events import EventKind
from bot.eventlog import State
from bot.policy.schema import DEFAULT_POLICY
from tests.conftest import wait_for
from tests.sandbox_helpers import create_ticket
from tests.stack import running_stack


def test_shadow_mode_writes_nothing_and_reports_agreement(tmp_path: Path) -> None:
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["desks"]["zendesk"]["shadow"] = True
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    with running_stack(tmp_path, extra_env={"HELPDESK_BOT_POLICY": str(policy_file)}) as stack:
        bug = create_ticket(stack.sandbox_url, "zendesk", "cathy@acme.test", "Export broken", "The export fails.")
        question = create_ticket(stack.sandbox_url, "zendesk", "gary@globex.test", "Invoice?", "Where is my invoice?")

        def decided() -> list[object] | None:
            recs = [
                rec
                for tid in (bug, question)
                for rec in stack.log.records(stack.log.ticket_event_ids("zendesk", tid))
                if rec.event.kind is EventKind.TICKET_CREATED and rec.state is State.DONE
            ]
            return recs if len(recs) == 2 else None

        records = wait_for(decided, timeout=40)
        assert all(r.decision.outcome.startswith("triage: shadow: would triage") for r in records)  # type: ignore[attr-defined]
        desk = stack.desk("zendesk")
        untouched = desk.get_ticket(bug)
        assert untouched.assignee_id is None and untouched.request_type is None
        assert [c.author.email for c in untouched.comments] == ["cathy@acme.test"]

        # An agent triages both by hand: the bug as the bot would have, the question differently.
        for ticket_id, request_type in ((bug, "technical_support"), (question, "feedback")):
            resp = requests.put(
                f"{stack.sandbox_url}/api/v2/tickets/{ticket_id}.json",
                json={"ticket": {"custom_fields": [{"id": 900001, "value": request_type}], "group_id": 201}},
                auth=("alice@example.com/token", "x"),
                timeout=10,
            )
            assert resp.status_code == 200, resp.text
        report = stack.cli("shadow-report", "--desk", "zendesk", "--since", "2020-01-01")
    assert report.returncode == 0, report.stderr
    lines = {
        line.split()[0]: line for line in report.stdout.splitlines()[2:] if line.strip() and not line.startswith("-")
    }
    assert "1/1 100%" in lines["possible-bug"], report.stdout
    assert "0/1 0%" in lines["default"], report.stdout
    assert "1/2 50%" in lines["all"], report.stdout
