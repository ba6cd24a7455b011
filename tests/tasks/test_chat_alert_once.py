"""An escalation alert (a chat message with a `once` key) is posted at most once per key, whatever plan carries
it: a duplicate delivery, a replay or a later sweep that decides it again finds the record (real Redis, the
sandbox's chat recorder). A message refused by the service is not recorded, so the retried task posts it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
import requests

from bot.domain.actions import Comment, PostChat
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


def plan(once: str = "escalation:zendesk:7:outage") -> Plan:
    alert = PostChat(channel="alerts", text="Escalation (outage): zendesk #7", thread_key="zendesk-7", once=once)
    writes = plan_writes(TICKET, [Comment(body="Escalated by rule 'outage'"), alert], People(), atomic=True)
    return Plan("escalation", writes, RunbookResult("escalation", "escalated"))


def test_an_alert_goes_out_once_per_key_across_plans(
    chat: ServedApp, redis_client: redis.Redis, redis_prefix: str
) -> None:
    notifier = ChatNotifier({"alerts": f"{chat.url}/services/T1/B1/x"})
    store, desk = PlanStore(redis_client, redis_prefix), Desk()

    def post(channel: str, text: str, thread: str | None) -> Any:
        return notifier.post(channel, text, thread_key=thread)

    first = plan()
    assert [w.kind for w in first.writes] == ["update", "chat"]  # the ticket's writes first
    assert run_plan(lambda _: desk, TICKET, first, store, "k1", post) == 2  # type: ignore[arg-type, return-value]
    again = plan()  # another plan deciding the same alert (a replay, a later sweep): nothing posted
    assert run_plan(lambda _: desk, TICKET, again, store, "k2", post) == 1  # type: ignore[arg-type, return-value]
    assert again.writes[-1].done and again.writes[-1].result == {"skipped": "posted by an earlier run"}
    assert [p["text"] for p in posts(chat)] == ["Escalation (outage): zendesk #7"]
    run_plan(lambda _: desk, TICKET, plan("escalation:zendesk:7:vip"), store, "k3", post)  # type: ignore[arg-type, return-value]
    assert len(posts(chat)) == 2  # another rule: its own alert


def test_a_refused_alert_is_not_recorded_so_the_retry_posts_it(
    chat: ServedApp, redis_client: redis.Redis, redis_prefix: str
) -> None:
    store, desk = PlanStore(redis_client, redis_prefix), Desk()

    def limited(channel: str, text: str, thread: str | None) -> Any:
        raise RateLimited(3)

    later = plan()
    with pytest.raises(RateLimited):
        run_plan(lambda _: desk, TICKET, later, store, "k1", limited)  # type: ignore[arg-type, return-value]
    assert [w.done for w in later.writes] == [True, False]  # the retried task resumes at the alert
    assert not store.done_once("escalation:zendesk:7:outage")
    notifier = ChatNotifier({"alerts": f"{chat.url}/services/T1/B1/x"})
    run_plan(  # type: ignore[arg-type]
        lambda _: desk, TICKET, later, store, "k1", lambda c, t, k: notifier.post(c, t, thread_key=k)
    )
    assert len(posts(chat)) == 1 and store.done_once("escalation:zendesk:7:outage")
