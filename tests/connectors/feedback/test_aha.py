"""Feedback recorded as Aha! ideas: the adapter against the Aha! sandbox, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bot.domain.errors import AuthError, InvalidRequest, NotFound, RateLimited
from bot.domain.tickets import Person, Role, Status, Ticket
from connectors.feedback.aha import AhaConfig, AhaIdeas
from connectors.feedback.records import Feedback
from connectors.feedback.sandbox import AhaSandbox
from connectors.sandbox_kit import make_app
from tests.conftest import ServedApp

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ticket(desk: str = "zendesk", tid: str = "42", subject: str = "Feature request: dark mode", **extra: Any) -> Ticket:
    values: dict[str, Any] = {
        "desk": desk,
        "id": tid,
        "subject": subject,
        "description": "It would be great to have a dark mode.\n\nOur night shift <ops> would love it & so would I.",
        "status": Status.OPEN,
        "requester": Person("301", "Cathy Customer", "cathy@acme.test", Role.CUSTOMER),
        "created_at": T0,
        "updated_at": T0,
        "version": "v1",
        "url": f"https://acme.zendesk.com/agent/tickets/{tid}",
        **extra,
    }
    return Ticket(**values)


FEEDBACK = Feedback(ticket())


@dataclass
class Aha:
    sandbox: AhaSandbox
    url: str

    def ideas(self, **options: str) -> AhaIdeas:
        return AhaIdeas(AhaConfig(**{"url": self.url, "api_key": "key", "product": "APP", **options}))

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(
            f"{self.url}/api/v1{path}", params=params, headers={"Authorization": "Bearer k"}, timeout=10
        )


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[AhaSandbox, ServedApp]]:
    sandbox = AhaSandbox()
    served = ServedApp(make_app([sandbox.blueprints()]))
    yield sandbox, served
    served.close()


@pytest.fixture
def aha(_served: tuple[AhaSandbox, ServedApp]) -> Aha:
    sandbox, served = _served
    sandbox.reset(seed=True)
    sandbox.control.reset()
    return Aha(sandbox, served.url)


def test_feedback_becomes_an_idea_with_the_text_requester_and_ticket_link(aha: Aha) -> None:
    idea = aha.ideas().record(FEEDBACK)
    assert idea.created and idea.reference == "APP-I-2" and idea.url == f"{aha.url}/ideas/ideas/APP-I-2"
    stored = aha.get(f"/ideas/{idea.reference}").json()["idea"]
    assert stored["name"] == "Feature request: dark mode"
    assert stored["created_by_user"]["email"] == "cathy@acme.test"
    assert stored["tags"] == ["helpdesk-bot", "helpdesk-bot-zendesk-42"]
    body = stored["description"]["body"]
    assert "<p>It would be great to have a dark mode.</p>" in body
    assert "&lt;ops&gt; would love it &amp; so would I." in body  # the customer's text is escaped, not HTML
    assert 'href="https://acme.zendesk.com/agent/tickets/42"' in body and "Zendesk 42</a>" in body
    assert "From: Cathy Customer &lt;cathy@acme.test&gt;" in body


def test_recording_the_same_ticket_again_finds_its_idea_instead_of_creating_one(aha: Aha) -> None:
    first = aha.ideas().record(FEEDBACK)
    again = aha.ideas().record(FEEDBACK)  # a redelivered webhook, a replay, a retried task
    assert (again.reference, again.created) == (first.reference, False)
    listed = aha.get("/products/APP/ideas", tag="helpdesk-bot-zendesk-42").json()
    assert listed["pagination"]["total_records"] == 1
    assert aha.sandbox.control.calls["POST /api/v1/products/<product>/ideas"] == 1
    other = aha.ideas().record(Feedback(ticket("jira", "SD-42"), title="Another", text="x"))
    assert other.created and other.reference != first.reference


def test_an_idea_is_read_back_by_reference_or_id(aha: Aha) -> None:
    idea = aha.ideas().record(FEEDBACK)
    assert aha.ideas().get(idea.id).reference == idea.reference
    with pytest.raises(NotFound):
        aha.ideas().get("APP-I-999")


def test_a_wrong_product_or_an_empty_title_are_permanent_errors(aha: Aha) -> None:
    with pytest.raises(NotFound):
        aha.ideas(product="NOPE").record(FEEDBACK)
    made = aha.ideas().record(Feedback(ticket(tid="7", subject="  "), text="text only"))
    assert made.name == "Feedback from a customer"
    resp = requests.post(
        f"{aha.url}/api/v1/products/APP/ideas", json={"idea": {}}, headers={"Authorization": "Bearer k"}, timeout=10
    )
    assert resp.status_code == 400 and "blank" in resp.json()["errors"]["message"]


def test_a_missing_key_is_an_auth_error_and_a_429_waits(aha: Aha) -> None:
    with pytest.raises(AuthError):
        aha.ideas(api_key="").record(FEEDBACK)
    aha.sandbox.control.fail_next(1, 429, retry_after=12)
    with pytest.raises(RateLimited) as caught:
        aha.ideas().record(FEEDBACK)
    assert caught.value.retry_after == 12
    assert aha.sandbox.control.calls["POST /api/v1/products/<product>/ideas"] == 0


def test_an_answer_without_the_idea_is_not_taken_for_success(aha: Aha) -> None:
    aha.sandbox.control.fail_next(1, 200, body={"ok": True})  # the lookup answers oddly: nothing found
    aha.sandbox.control.fail_next(1, 200, body={"ok": True})
    with pytest.raises(InvalidRequest):
        aha.ideas().record(FEEDBACK)


def test_the_sandbox_server_serves_aha_beside_the_desks() -> None:
    from connectors.sandboxes import build

    app, fakes = build(seed=True)
    assert "aha" in fakes
    resp = app.test_client().get("/api/v1/ideas", headers={"Authorization": "Bearer k"})
    assert resp.status_code == 200 and resp.get_json()["ideas"][0]["reference_num"] == "APP-I-1"
