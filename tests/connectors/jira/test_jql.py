"""The JQL the Jira sandbox evaluates: the clauses the bot and the jira client send, and Jira's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.jira import jql

STATUSES = ["Waiting for support", "Waiting for customer", "Resolved"]


def issue(
    key: str, status: str, category: str, assignee: dict[str, str] | None, labels: list[str], updated: str
) -> Any:
    return {
        "key": key,
        "fields": {
            "project": {"key": key.split("-")[0]},
            "status": {"name": status, "statusCategory": {"key": category}},
            "assignee": assignee,
            "labels": labels,
            "updated": updated,
        },
    }


ISSUES = [
    issue(
        "SD-10",
        "Waiting for customer",
        "indeterminate",
        {"accountId": "agent-bob"},
        ["vip"],
        "2026-01-05T09:00:00.000+0000",
    ),
    issue("SD-2", "Waiting for support", "new", {"name": "agent-bob"}, [], "2026-03-01T09:00:00.000+0000"),
    issue("DEV-1", "Resolved", "done", None, ["helpdesk-bot-ref-sd-2"], "2026-03-01T09:00:00.000+0000"),
]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("project = SD ORDER BY key ASC", ["SD-2", "SD-10"]),
        ('project = SD AND status in ("Waiting for customer", "Resolved")', ["SD-10"]),
        ('assignee = "agent-bob" AND statusCategory != Done', ["SD-2", "SD-10"]),  # Cloud id or Data Center name
        ('labels = "helpdesk-bot-ref-sd-2"', ["DEV-1"]),
        ("labels not in (vip)", ["DEV-1", "SD-2"]),
        ('project = SD AND updated < "2026/02/01 00:00"', ["SD-10"]),
        ("", ["DEV-1", "SD-2", "SD-10"]),
    ],
)
def test_select(query: str, keys: list[str]) -> None:
    assert [i["key"] for i in jql.select(ISSUES, query, STATUSES)] == keys


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('status = "Nope"', "The value 'Nope' does not exist for the field 'status'."),
        ("component = Billing", "Field 'component' does not exist or you do not have permission to view it."),
        ("project ~ SD", "Error in the JQL Query: 'project ~ SD' is not understood."),
    ],
)
def test_what_jira_refuses(query: str, message: str) -> None:
    with pytest.raises(jql.JqlError) as refused:
        jql.select([], query, STATUSES)  # refused even when nothing would match
    assert str(refused.value) == message
