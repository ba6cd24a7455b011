"""A chat alert is posted at most once per its `once` key, whatever plan carries it, and a chat service that
refuses the webhook for good does not stop the ticket's own writes (real Redis, the sandbox's chat recorder)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
import requests

from bot.domain.actions import ChatAlert, Comment
from bot.domain.decisions import RunbookResult
from bot.domain.errors import RateLimited
from bot.domain.tickets import Person, Status, Ticket, TicketChanges
from connectors.chat.webhooks import ChatNotifier
from connectors.sandboxes import build
from tasks.executor import People, Plan, PlanStore, plan_writes, run_plan
from tests.conftest import ServedApp

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TICKET = Ticket("zendesk", "7", "Down", "Outage", Status.OPEN, Person("301", "Cathy"), NOW, NOW, "v1")


class Desk:
    """Records the ticket writes (the desk's own behaviour is tested elsewhere)."""

    name = "zendesk"

    def __init__(self) -> None:
        self.writes: list[TicketChanges] = []

    def apply(self, ticket: Ticket, changes: TicketChanges) -> None:
        self.writes.append(changes)


@pytest.fixture
def chat() -> Iterator[ServedApp]:
    app, _ = build(seed=True)
    served = ServedApp(app)
    yield served
    served.close()


def posts(chat: ServedApp) -> list[dict[str, Any]]:
    return list(requests.get(f"{chat.url}/_sandbox/chat/posts", timeout=10).json())


def plan(*alerts: ChatAlert) -> Plan:
    actions = [Comment(body="Escalated by rule 'outage'"), *alerts]
    writes = plan_writes(TICKET, actions, People(), atomic=True)
    return Plan("escalation", writes, RunbookResult("escalation", "escalated"))


def alert(once: str = "escalation:zendesk:7:outage") -> ChatAlert:
    return ChatAlert(channel="alerts", text="Escalation (outage): zendesk #7", once=once)


def test_the_alert_follows_the_tickets_writes_and_goes_out_once_per_key(
    chat: ServedApp, redis_client: redis.Redis, redis_prefix: str
) -> None:
    notifier = ChatNotifier({"alerts": "https://hooks.slack.com/services/T1/B1/x"}, base_url=chat.url)
    store, desk = PlanStore(redis_client, redis_prefix), Desk()

    def post() -> Any:
        return lambda channel, text, thread: notifier.post(channel, text, thread_key=thread)

    first = plan(alert())
    assert [w.kind for w in first.writes] == ["update", "chat_alert"]
    assert run_plan(lambda _: desk, TICKET, first, store, "k1", post) == 2  # type: ignore[arg-type, return-value]
    # Another plan deciding the same alert (a replay, a later sweep) finds its record: nothing posted.
    run_plan(lambda _: desk, TICKET, plan(alert()), store, "k2", post)  # type: ignore[arg-type, return-value]
    assert [p["text"] for p in posts(chat)] == ["Escalation (outage): zendesk #7"]
    run_plan(lambda _: desk, TICKET, plan(alert("escalation:zendesk:7:vip")), store, "k3", post)  # type: ignore[arg-type, return-value]
    assert len(posts(chat)) == 2  # another rule: its own alert
    assert len(desk.writes) == 3


def test_a_refused_webhook_is_logged_and_a_rate_limit_retried(
    chat: ServedApp, redis_client: redis.Redis, redis_prefix: str
) -> None:
    store, desk = PlanStore(redis_client, redis_prefix), Desk()
    # A path Slack does not serve: 404 `no_service`, as for a revoked webhook.
    revoked = ChatNotifier({"alerts": "https://hooks.slack.com/services/T1/B1/x/revoked"}, base_url=chat.url)

    def refused() -> Any:
        return lambda channel, text, thread: revoked.post(channel, text)

    done = plan(alert())
    run_plan(lambda _: desk, TICKET, done, store, "k1", refused)  # type: ignore[arg-type, return-value]
    assert all(w.done for w in done.writes) and len(desk.writes) == 1
    assert not store.done_once("escalation:zendesk:7:outage")  # never posted, so never recorded as posted

    def limited() -> Any:
        def post(channel: str, text: str, thread: str | None) -> None:
            raise RateLimited(3)

        return post

    later = plan(alert())
    with pytest.raises(RateLimited):
        run_plan(lambda _: desk, TICKET, later, store, "k2", limited)  # type: ignore[arg-type, return-value]
    assert [w.done for w in later.writes] == [True, False]  # the retried task resumes at the alert
