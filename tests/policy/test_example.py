"""deploy/policy.example.yaml is valid and sets every option the policy knows (so it documents all of them)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.policy import schema
from bot.policy.schema import load_policy, validate_policy_file
from bot.policy.templates import DEFAULTS

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policy.example.yaml"


def fields_set(value: Any, seen: dict[type[BaseModel], set[str]]) -> None:
    if isinstance(value, BaseModel):
        seen[type(value)] |= value.model_fields_set
        for name in type(value).model_fields:
            fields_set(getattr(value, name), seen)
    elif isinstance(value, dict):
        for item in value.values():
            fields_set(item, seen)
    elif isinstance(value, list):
        for item in value:
            fields_set(item, seen)


def test_example_policy_is_valid() -> None:
    assert validate_policy_file(EXAMPLE) == []


def test_example_policy_sets_every_option() -> None:
    seen: dict[type[BaseModel], set[str]] = defaultdict(set)
    fields_set(load_policy(EXAMPLE), seen)
    strict = {
        cls
        for cls in vars(schema).values()
        if isinstance(cls, type) and issubclass(cls, schema.Strict) and cls is not schema.Strict
    }
    # A shared base (DeskOptions) is only ever used through its per-desk sections.
    models = {cls for cls in strict if not any(other is not cls and issubclass(other, cls) for other in strict)}
    assert set(seen) == models
    missing = {cls.__name__: set(cls.model_fields) - seen[cls] for cls in models if set(cls.model_fields) - seen[cls]}
    assert missing == {}


def test_example_policy_uses_every_strategy_shadow_flag_and_valid_template_names() -> None:
    policy = load_policy(EXAMPLE)
    assert {a.strategy for r in policy.triage.rules if (a := r.assign)} == {"round_robin", "least_loaded", "skills"}
    assert policy.shadow("jira") and not policy.shadow("zendesk")
    assert any(r.shadow for r in policy.triage.rules)
    assert set(policy.templates) <= set(DEFAULTS)
