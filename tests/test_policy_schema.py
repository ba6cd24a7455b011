"""Policy validation: every problem is reported with the file and the key path that holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.schema import DEFAULT_POLICY, load_policy, validate_policy_file


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return [str(p) for p in validate_policy_file(path)]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "triage:\n  rules:\n    - {name: a, match: {regex: '(x'}, request_type: feedback}\n",
            "triage.rules[0].match.regex",
            "regular expression",
        ),
        (
            "triage:\n  rules:\n    - {name: a, match: {keywords: [x]}, request_type: complaint}\n",
            "triage.rules[0].request_type",
            "complaint",
        ),
        (
            "triage:\n  rules:\n    - {name: a, match: {}, request_type: feedback}\n",
            "triage.rules[0].match",
            "at least one condition",
        ),
        (
            "triage:\n  rules:\n    - {name: a, match: {keyword: [x]}, request_type: feedback}\n",
            "triage.rules[0].match.keyword",
            "unknown key",
        ),
        (
            "triage:\n  rules:\n    - {match: {keywords: [x]}, request_type: feedback}\n",
            "triage.rules[0].name",
            "required",
        ),
        (
            "triage:\n  default: {assign: {group: support, strategy: random}}\n",
            "triage.default.assign.strategy",
            "random",
        ),
        (
            "agents:\n  bob@example.com: {away: [{from: 2026-03-10, to: 2026-03-01}]}\n",
            "agents.bob@example.com.away[0]",
            "before",
        ),
        (
            "agents:\n  bob@example.com: {away: [{from: someday, to: 2026-03-01}]}\n",
            "agents.bob@example.com.away[0].from",
            "date",
        ),
        ("templates:\n  first_response.feedback: 'Hi {{ customer_name }'\n", "templates", "first_response.feedback"),
        ("templates:\n  goodbye: 'Bye'\n", "templates", "unknown template"),
        ("participants:\n  - {cc: [not-an-email]}\n", "participants[0].cc", "not an email"),
        ("desks:\n  freshdesk: {}\n", "desks.freshdesk", "freshdesk"),
        (
            "desks:\n  zendesk: {groups: {}}\ntriage:\n  default: {assign: {group: support}}\n",
            "triage.default.assign.group",
            "desks.zendesk.groups",
        ),
        ("triage: [\n", "line", "not valid YAML"),
        ("- just\n- a list\n", "policy.yaml", "mapping"),
    ],
)
def test_each_problem_names_its_key(tmp_path: Path, text: str, where: str, message: str) -> None:
    found = problems(tmp_path, text)
    assert found, "expected a problem"
    assert any(where in p and message in p for p in found), found
    assert all(p.startswith(str(tmp_path / "policy.yaml")) for p in found)


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, "staff_domain: [x]\ntriage:\n  enabled: maybe\n")
    assert len(found) == 2


def test_packaged_default_is_valid() -> None:
    assert validate_policy_file(None) == []
    assert validate_policy_file(DEFAULT_POLICY) == []
    assert load_policy(None).triage.rules
