"""Property: every correctly signed delivery gets a 2xx or a 4xx, never a 5xx, however its fields are mangled.

Bodies start from the real recorded payloads (tests/fixtures/<desk>/webhooks/) and the documented trigger /
automation templates; each example changes a few fields: another JSON type, a dropped field, or a huge value
(integers over Python's 4,300-digit conversion limit, nesting thousands deep, long strings, unpaired surrogate
escapes). 1,000 examples per desk in `make test`, 10,000 in `make soak` (CI runs both), derandomized so CI runs
the same cases every time.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from connectors import webhook_module
from connectors.jira.webhook import AUTOMATION_TEMPLATE
from connectors.zendesk.webhook import TRIGGER_TEMPLATE
from tests.conftest import FIXTURES, cleanup_prefix
from tests.test_intake import SECRETS, make_settings

EXAMPLES_PER_DESK = int(os.environ.get("HELPDESK_BOT_TEST_FUZZ_EXAMPLES", 1_000))

Path_ = tuple[str | int, ...]


class Raw:
    """JSON text that `json.dumps` cannot produce from Python values (or would refuse to)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:30]!r}... {len(self.text)} chars)"


RAW_VALUES = [
    Raw("9" * 5000),  # over int()'s 4,300-digit limit
    Raw("-" + "1" * 4301),
    Raw("1" * 41),
    Raw("1e999"),  # overflows a float
    Raw("[" * 3000 + "]" * 3000),  # nesting deeper than any parser step should meet
    Raw('{"a":' * 200 + "1" + "}" * 200),
    Raw('"\\ud800"'),  # an unpaired surrogate escape
    Raw('"' + "x" * 20_000 + '"'),
    Raw("NaN"),
]


def _template(text: str) -> dict[str, Any]:
    """A documented template as a desk renders it: every placeholder filled in."""
    rendered = json.loads(re.sub(r"\{\{[^}]*\}\}", "77", text))
    assert isinstance(rendered, dict)
    return rendered


def _bases(desk: str) -> list[dict[str, Any]]:
    fixtures = [json.loads(p.read_text()) for p in sorted((FIXTURES / desk / "webhooks").glob("*.json"))]
    template = _template(TRIGGER_TEMPLATE if desk == "zendesk" else AUTOMATION_TEMPLATE)
    template["issue"] = "SD-77" if desk == "jira" else template.get("issue")
    return [*fixtures, template]


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every place in a JSON tree where a value sits (the root included)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            yield from _paths(child, (*prefix, index))


BASES = {desk: [json.dumps(base) for base in _bases(desk)] for desk in ("zendesk", "jira")}
PATHS = {desk: [list(_paths(json.loads(base))) for base in bases] for desk, bases in BASES.items()}

OTHER_TYPES = [None, True, False, 0, -1, 1.5, "", "x", "SD-1", "12", [], [1], [None], {}, {"key": "SD-1"}, {"id": []}]
"""One of each JSON type, plus values that look right for some fields, so a change can land on a valid shape."""

json_values = (
    st.sampled_from(OTHER_TYPES)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=12)
)
mutations = st.tuples(
    st.sampled_from(["replace", "replace", "drop", "insert"]),
    st.integers(min_value=0),
    json_values | st.sampled_from(RAW_VALUES),
)


def mutate(payload: Any, path: Path_, op: str, value: Any, raws: list[Raw]) -> Any:
    """`payload` with the value at `path` replaced, dropped, or a sibling key inserted; the root may be replaced.
    A `Raw` value is put in as a placeholder string that `render` swaps for its text."""
    if isinstance(value, Raw):
        raws.append(value)
        value = f"@@raw{len(raws) - 1}@@"
    else:
        value = copy.deepcopy(value)  # the sampled values are shared between examples: never mutate them
    if not path:
        return value if op == "replace" else payload
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "drop":
        del parent[last]
    elif op == "insert" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return payload


def render(payload: Any, raws: list[Raw]) -> bytes:
    text = json.dumps(payload, ensure_ascii=False)
    for n, raw in enumerate(raws):
        text = text.replace(f'"@@raw{n}@@"', raw.text)
    return text.encode("utf-8", errors="surrogatepass")


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, str]]:
    prefix = f"hbtest:fuzz{int(time.time() * 1000)}:"
    app = create_app(make_settings(prefix, tmp_path_factory.mktemp("fuzz"), helpdesk_bot_log_level="WARNING"))
    with app.test_client() as client:
        yield client, prefix
    app.extensions["helpdesk_bot_drainer"].stop()
    cleanup_prefix(prefix)


def _check(client: FlaskClient, prefix: str, desk: str, body: bytes, counter: list[int]) -> None:
    headers = webhook_module(desk).sign(SECRETS[desk], body)
    if desk == "jira":
        headers["X-Atlassian-Webhook-Identifier"] = "fuzz"  # one delivery: redeliveries keep Redis small
    resp = client.post(f"/webhooks/{desk}", data=body, headers={"Content-Type": "application/json", **headers})
    assert resp.status_code in (200, 202, 400), (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.is_json
    if resp.status_code == 400:
        assert resp.json["reason"]
    counter[0] += 1
    if counter[0] % 1000 == 0:
        cleanup_prefix(prefix)  # rejected deliveries are kept (up to 1,000 per desk): keep the test's Redis small


@pytest.mark.parametrize("desk", ["zendesk", "jira"])
def test_no_signed_delivery_built_from_real_payloads_gets_a_5xx(
    fuzz_client: tuple[FlaskClient, str], desk: str
) -> None:
    client, prefix = fuzz_client
    counter = [0]
    started, cpu = time.perf_counter(), time.process_time()

    @settings(
        max_examples=EXAMPLES_PER_DESK,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(base=st.integers(min_value=0), changes=st.lists(mutations, min_size=1, max_size=3))
    def one_delivery(base: int, changes: list[tuple[str, int, Any]]) -> None:
        index = base % len(BASES[desk])
        payload = json.loads(BASES[desk][index])
        paths = PATHS[desk][index]
        raws: list[Raw] = []
        for op, where, value in changes:
            path = paths[where % len(paths)]
            try:
                payload = mutate(payload, path, op, value, raws)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed or replaced this path
        _check(client, prefix, desk, render(payload, raws), counter)

    one_delivery()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{desk}: {counter[0]} signed deliveries, none answered 5xx, in {took:.1f}s ({cpu:.1f}s of CPU)")
    assert counter[0] >= EXAMPLES_PER_DESK


@pytest.mark.parametrize(
    ("desk", "body", "reason"),
    [
        (
            "jira",
            b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "SD-1"}, "changelog": {"items": 7}}',
            "items",
        ),
        (
            "jira",
            b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "SD-1"}, "changelog": {"items": true}}',
            "items",
        ),
        ("jira", b'{"webhookEvent": "jira:issue_created", "timestamp": ' + b"9" * 4301 + b"}", "digits"),
        ("zendesk", b'{"ticket_id": "1", "actor_id": ' + b"1" * 5000 + b"}", "digits"),
        ("zendesk", b'{"ticket_id": true}', "ticket_id"),
        ("zendesk", b'{"ticket_id": "1", "actor_id": ["1"]}', "actor_id"),
        ("zendesk", b'{"ticket_id": "' + b"1" * 30 + b'"}', "ticket_id"),
        ("jira", b'{"webhookEvent": "jira:issue_created", "issue": {"key": "SD-1"}, "timestamp": -5}', "timestamp"),
        ("jira", b'{"helpdesk_bot": "1", "issue": "SD-1", "actor": "' + b"a" * 5000 + b'"}', "actor"),
        ("jira", b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "nested"),
    ],
)
def test_the_shapes_that_used_to_crash_intake_are_400_with_the_reason_and_kept(
    fuzz_client: tuple[FlaskClient, str], desk: str, body: bytes, reason: str
) -> None:
    client, prefix = fuzz_client
    headers = webhook_module(desk).sign(SECRETS[desk], body)
    resp = client.post(f"/webhooks/{desk}", data=body, headers={"Content-Type": "application/json", **headers})
    assert resp.status_code == 400, resp.json
    assert reason in resp.json["reason"]
    import redis

    from tests.conftest import TEST_REDIS_URL

    kept = redis.Redis.from_url(TEST_REDIS_URL).lrange(f"{prefix}rejected:{desk}", 0, 0)
    assert kept and json.loads(kept[0])["reason"] == resp.json["reason"]
