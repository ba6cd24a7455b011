"""Shadow report: per-rule agreement between the bot's recorded decisions and what agents did."""

from __future__ import annotations

from typing import Any

from bot.domain.tickets import Status
from bot.policy.shadow import ShadowRecord, agreement, format_report
from tests.policy.helpers import ticket


def record(rule: str, chosen: str, group: str | None, resolution: str | None, **later: Any) -> ShadowRecord:
    decision = {"rule": rule, "request_type": chosen, "group_id": group, "resolution": resolution}
    return ShadowRecord.from_decision(decision, ticket(**later))


RECORDS = [
    # possible-bug: agents agreed on type twice, disagreed once; routed to 201 twice, 202 once; one still untyped
    record("possible-bug", "technical_support", "201", None, request_type="technical_support", group_id="201"),
    record("possible-bug", "technical_support", "201", None, request_type="technical_support", group_id="201"),
    record("possible-bug", "technical_support", "201", None, request_type="feedback", group_id="202"),
    record("possible-bug", "technical_support", "201", None, status=Status.OPEN),
    # phone-only: the bot would resolve; agents resolved one, kept one open, one is on hold
    record("phone-only", "phone_only", None, "Done", request_type="phone_only", status=Status.SOLVED),
    record("phone-only", "phone_only", None, "Done", request_type="phone_only", status=Status.OPEN),
    record("phone-only", "phone_only", None, "Done", request_type="general_inquiry", status=Status.ON_HOLD),
    # default: agents resolved a ticket the bot would have left open
    record("default", "general_inquiry", "201", None, request_type="general_inquiry", status=Status.SOLVED),
]


def test_agreement_per_rule_and_overall() -> None:
    rows = {r.rule: r for r in agreement(RECORDS)}
    assert list(rows) == ["possible-bug", "phone-only", "default", "all"]
    bug = rows["possible-bug"]
    assert bug.tickets == 4
    assert (bug.request_type.agree, bug.request_type.disagree, bug.request_type.pending) == (2, 1, 1)
    assert (bug.group.agree, bug.group.disagree) == (2, 1)
    assert bug.resolution.decided == 0
    phone = rows["phone-only"]
    assert (phone.resolution.agree, phone.resolution.disagree) == (1, 2)
    assert phone.group.decided == 0  # the bot would not have routed it anywhere
    assert rows["default"].resolution.disagree == 1
    total = rows["all"]
    assert total.tickets == 8 and total.request_type.agree == 5 and total.request_type.decided == 7


def test_report_table() -> None:
    text = format_report(agreement(RECORDS))
    lines = text.splitlines()
    assert lines[0].split() == ["rule", "tickets", "request", "type", "group", "resolved"]
    bug = next(line for line in lines if line.startswith("possible-bug"))
    assert "2/3 67%" in bug and "-" in bug.split()[-1]
    assert lines[-1].startswith("all") and "5/7 71%" in lines[-1]
    assert lines[-2].startswith("---")
    assert format_report([]) == "No shadow decisions recorded yet."


def test_desk_values_are_compared_as_the_desk_stores_them() -> None:
    decision = {"rule": "r", "request_type": "feedback", "request_type_value": "4", "group_id": "support"}
    (row, _) = agreement([ShadowRecord.from_decision(decision, ticket(desk="jira", request_type="4"))])
    assert row.request_type.agree == 1
