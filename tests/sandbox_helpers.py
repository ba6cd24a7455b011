"""Acting on a sandbox desk the way people do on the real one (a customer opens a ticket...), for tests."""

from __future__ import annotations

from typing import Any

import requests

DEMO_IDS = {
    "zendesk": {"alice": "101", "bob": "102", "carol": "103", "sam": "105", "cathy": "301", "gary": "302"},
    "jira": {
        "alice": "agent-alice",
        "bob": "agent-bob",
        "carol": "agent-carol",
        "sam": "agent-sam",
        "cathy": "cust-cathy",
        "gary": "cust-gary",
    },
}
SUPPORT_GROUP = {"zendesk": "201", "jira": "support"}
STAFF_DOMAIN = "@example.com"


def open_zendesk_ticket(base_url: str, author: str, subject: str, body: str, **extra: Any) -> str:
    """A Zendesk ticket opened the way that person could on a real account.

    A customer uses the end user's Requests API; staff use the Tickets API. Fields only agents may set
    (assignee, tags...) make an agent (Alice) open it on the customer's behalf.
    """
    staff = author.endswith(STAFF_DOMAIN)
    if not staff and not extra:
        request = {"subject": subject, "comment": {"body": body}}
        resp = requests.post(
            f"{base_url}/api/v2/requests.json", json={"request": request}, auth=(f"{author}/token", "x"), timeout=10
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["request"]["id"])
    ticket: dict[str, Any] = {"subject": subject, "comment": {"body": body}, **extra}
    agent = author
    if not staff:
        ticket["requester"] = {"email": author}
        agent = "alice@example.com"
    resp = requests.post(
        f"{base_url}/api/v2/tickets.json", json={"ticket": ticket}, auth=(f"{agent}/token", "x"), timeout=10
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ticket"]["id"])


def create_ticket(base_url: str, desk: str, author: str, subject: str, body: str, assignee: str | None = None) -> str:
    """Open a ticket as `author` (an email of the demo desk) through the desk's own public API."""
    if desk == "zendesk":
        return open_zendesk_ticket(
            base_url, author, subject, body, **({"assignee_id": int(assignee)} if assignee else {})
        )
    request = {
        "serviceDeskId": "1",
        "requestTypeId": "1",
        "requestFieldValues": {"summary": subject, "description": body},
    }
    resp = requests.post(f"{base_url}/rest/servicedeskapi/request", json=request, auth=(author, "x"), timeout=10)
    assert resp.status_code == 201, resp.text
    key = str(resp.json()["issueKey"])
    if assignee:
        agent = ("alice@example.com", "x")
        cloud = requests.get(f"{base_url}/rest/api/2/serverInfo", auth=agent, timeout=10).json()["deploymentType"]
        path, who = ("3", {"accountId": assignee}) if cloud == "Cloud" else ("2", {"name": assignee})  # Data Center
        assigned = requests.put(f"{base_url}/rest/api/{path}/issue/{key}/assignee", json=who, auth=agent, timeout=10)
        assert assigned.status_code == 204, assigned.text
    return key


def sandbox_control(base_url: str, desk: str, knob: str, spec: dict[str, object]) -> None:
    resp = requests.post(f"{base_url}/_sandbox/{desk}/{knob}", json=spec, timeout=10)
    assert resp.ok, resp.text


def sandbox_calls(base_url: str, desk: str) -> dict[str, object]:
    return dict(requests.get(f"{base_url}/_sandbox/{desk}/calls", timeout=10).json())


def demo_options(desk: str) -> Any:
    """The adapter settings that fit the sandbox's demo desks: the packaged default policy's section."""
    from bot.policy.schema import load_policy

    return load_policy(None).desk(desk)


def customer_reply(base_url: str, desk: str, author: str, ticket_id: str, body: str) -> None:
    """A public reply by the customer through the desk's own end-user API (as their mail would arrive)."""
    if desk == "zendesk":
        resp = requests.put(
            f"{base_url}/api/v2/requests/{ticket_id}.json",
            json={"request": {"comment": {"body": body}}},
            auth=(f"{author}/token", "x"),
            timeout=10,
        )
    else:
        resp = requests.post(
            f"{base_url}/rest/servicedeskapi/request/{ticket_id}/comment",
            json={"body": body, "public": True},
            auth=(author, "x"),
            timeout=10,
        )
    assert resp.status_code in (200, 201), resp.text


def audit_note(base_url: str, desk: str, ticket_id: str) -> str | None:
    """The bot's audit note as an agent sees it in the ticket's "Bot triage" field (`audit_field`)."""
    from connectors.jira import adf

    if desk == "zendesk":
        agent = ("alice@example.com/token", "x")
        resp = requests.get(f"{base_url}/api/v2/tickets/{ticket_id}.json", auth=agent, timeout=10)
        fields = resp.json()["ticket"]["custom_fields"]
        return next((f["value"] for f in fields if f["id"] == 900003), None)
    url = f"{base_url}/rest/api/3/issue/{ticket_id}"
    resp = requests.get(url, params={"fields": "customfield_10050"}, auth=("alice@example.com", "x"), timeout=10)
    return adf.plain(resp.json()["fields"]["customfield_10050"])
