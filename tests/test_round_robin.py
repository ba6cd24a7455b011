"""Round-robin stays fair when two worker processes triage 1,000 tickets at the same time."""

from __future__ import annotations

import collections
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot.domain.tickets import AgentLoad, Person, Role
from bot.policy.assign import choose_agent
from bot.policy.schema import Agent, Assignment, Policy, load_policy
from tasks.rotation import Rotation
from tests.conftest import TEST_REDIS_URL, wait_for
from tests.stack import policy_with_budgets, running_stack

TICKETS = 1000


@pytest.mark.soak  # `make soak`: two processes over 1,000 tickets (20 s); the thread test below stays in `make test`
def test_two_workers_share_1000_tickets_fairly(tmp_path: Path) -> None:
    """End to end: 1,000 sandbox tickets, signed webhooks, two `helpdesk-bot worker` processes."""
    unlimited = policy_with_budgets(tmp_path, {"zendesk": {"per_minute": 100_000}})  # thousands of calls a minute
    with running_stack(tmp_path, workers=2, concurrency=1, extra_env=unlimited) as stack:
        zendesk = stack.sandboxes["zendesk"]
        with zendesk._lock:  # type: ignore[attr-defined]
            first_new = max(zendesk.state.tickets) + 1  # type: ignore[attr-defined]
        for i in range(TICKETS):
            zendesk._create_ticket(302, {"subject": f"Question {i}", "comment": {"body": "When is my renewal?"}})  # type: ignore[attr-defined]

        def assigned() -> dict[int, int] | None:
            with zendesk._lock:  # type: ignore[attr-defined]
                tickets = [t for tid, t in zendesk.state.tickets.items() if tid >= first_new]  # type: ignore[attr-defined]
            if any(t["assignee_id"] is None for t in tickets):
                return None
            return dict(collections.Counter(t["assignee_id"] for t in tickets))

        counts = wait_for(assigned, timeout=180, interval=1.0)
    assert sum(counts.values()) == TICKETS
    assert set(counts) == {101, 102, 103}
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_rotation_turns_are_unique_across_threads_and_stable_per_ticket(redis_prefix: str) -> None:
    """The Redis counter never hands one turn out twice, and a ticket asked again keeps its turn."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    rotation = Rotation(client, redis_prefix)
    turns: list[int] = []
    lock = threading.Lock()

    def take(worker: int) -> None:
        for i in range(250):
            turn = rotation.take("zendesk", "support", f"{worker}-{i}")
            with lock:
                turns.append(turn)

    threads = [threading.Thread(target=take, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(turns) == list(range(1, 1001))
    assert rotation.take("zendesk", "support", "0-7") == rotation.take("zendesk", "support", "0-7")
    assert rotation.peek("zendesk", "support", "new-ticket") == 1001


def test_an_agent_away_is_skipped_and_the_rest_stay_fair() -> None:
    away = Agent.model_validate({"away": [{"from": "2026-03-01", "to": "2026-03-10"}]})
    policy = load_policy(None).model_copy(update={"agents": {"carol@example.com": away}})
    agents = [
        AgentLoad(Person(str(i), name, f"{name.lower()}@example.com", Role.AGENT), 0)
        for i, name in ((101, "Alice"), (102, "Bob"), (103, "Carol"))
    ]
    rule = Assignment(group="support", strategy="round_robin")
    during = datetime(2026, 3, 5, 10, tzinfo=UTC)
    picks = collections.Counter(_pick(rule, agents, policy, during, turn) for turn in range(1, 1001))
    assert set(picks) == {"101", "102"} and abs(picks["101"] - picks["102"]) <= 1
    after = datetime(2026, 3, 11, 10, tzinfo=UTC)
    assert {_pick(rule, agents, policy, after, turn) for turn in (1, 2, 3)} == {"101", "102", "103"}


def _pick(rule: Assignment, agents: list[AgentLoad], policy: Policy, now: datetime, turn: int) -> str:
    choice = choose_agent(rule, agents, policy, now, turn)
    assert choice.agent is not None, choice.why
    return choice.agent.id
