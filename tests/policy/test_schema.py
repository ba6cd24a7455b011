"""The policy file: valid files load, and every kind of mistake is reported at its key path (and line)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.policy.schema import DEFAULT_POLICY, PolicyError, load_policy, validate_policy_file
from connectors.jira.options import JiraOptions

BASE = """
desks:
  zendesk:
    groups: {support: "201"}
    organizations: {acme: "401"}
triage:
  rules:
    - name: bug
      match: {keywords: [error]}
      request_type: technical_support
      assign: {group: support}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    path = write(tmp_path, text)
    return [(p.where.removeprefix(f"{path}: "), p.message) for p in validate_policy_file(path)]


def test_packaged_default_is_valid_and_fits_the_demo_desks() -> None:
    assert validate_policy_file(None) == []
    policy = load_policy(None)
    assert policy.desk("zendesk").groups["support"] == "201"
    assert policy.desk("jira").request_type_value("incident") == "6"
    assert policy.desk("zendesk").request_type_value("incident") == "incident"  # tagger value = name
    jira = policy.desk("jira")
    assert isinstance(jira, JiraOptions) and jira.service_project == "SD"  # the adapter receives it as is
    assert JiraOptions.of(jira) is jira
    assert policy.is_staff("Sam@Example.com") and not policy.is_staff("cathy@acme.test")
    assert load_policy(DEFAULT_POLICY) == policy


def test_base_policy_is_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, BASE) == []


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (BASE + "tirage: {}\n", "tirage", "unknown key (did you mean 'triage'?)"),
        (
            BASE.replace("match: {keywords: [error]}", "match: {keywords: [error], regexp: x}"),
            "triage.rules[0].match.regexp",
            "unknown key (did you mean 'regex'?)",
        ),
        (
            BASE.replace("match: {keywords: [error]}", "match: {regex: 'error(('}"),
            "triage.rules[0].match.regex",
            "not a valid regular expression",
        ),
        (BASE.replace("technical_support", "tech"), "triage.rules[0].request_type", "unknown request type 'tech'"),
        (
            BASE.replace("{group: support}", "{group: support, strategy: random}"),
            "triage.rules[0].assign.strategy",
            "unknown strategy 'random'",
        ),
        (
            BASE.replace("{group: support}", "{group: support, strategy: skills}"),
            "triage.rules[0].assign",
            "strategy 'skills' needs skills.language and/or skills.product",
        ),
        (BASE.replace("{group: support}", "{group: nowhere}"), "triage.rules[0].assign.group", "'nowhere' is not in"),
        (BASE.replace("match: {keywords: [error]}", "match: {}"), "triage.rules[0].match", "at least one condition"),
        (BASE.replace("      request_type: technical_support\n", ""), "triage.rules[0].request_type", "missing"),
        (
            BASE.replace("keywords: [error]", "keywords: error"),
            "triage.rules[0].match.keywords",
            "valid list",
        ),
        (
            BASE + "agents:\n  alice@example.com:\n    away: [{from: 2024-13-01, to: 2024-12-31}]\n",
            "agents.alice@example.com.away[0].from",
            "not a date (YYYY-MM-DD): '2024-13-01'",
        ),
        (
            BASE + "agents:\n  alice@example.com:\n    away: [{from: 2024-12-20, to: 2024-12-01}]\n",
            "agents.alice@example.com.away[0]",
            "'to' is before 'from'",
        ),
        (BASE + "agents:\n  alice: {languages: [en]}\n", "agents.alice", "not an email address"),
        (BASE + "templates:\n  phone_only: 'Call {{ phone'\n", "templates.phone_only", "template syntax error"),
        (
            BASE + "templates:\n  phone_only: 'Hi {{ customer }}'\n",
            "templates.phone_only",
            "unknown variable: 'customer' is undefined",
        ),
        (BASE + "templates:\n  goodbye: 'Bye'\n", "templates.goodbye", "unknown template 'goodbye'"),
        (
            BASE + "templates:\n  triage_note: '{{ agent_name.upper() }}'\n",
            "templates.triage_note",
            "template fails when agent_name, customer_email, ticket_url are empty",
        ),
        (BASE + "templates:\n  triage_note: '{{ 1 / 0 }}'\n", "templates.triage_note", "cannot be rendered"),
        (
            BASE + "participants:\n  - {organization: initech, cc: [x@example.com]}\n",
            "participants[0].organization",
            "unknown organization 'initech'",
        ),
        (BASE + "participants:\n  - {cc: [not-an-email]}\n", "participants[0].cc[0]", "not an email address"),
        (
            BASE.replace('groups: {support: "201"}', 'groups: {support: "201"}\n    request_types: {urgent: x}'),
            "desks.zendesk.request_types.urgent",
            "unknown request type 'urgent'",
        ),
        (BASE + "  desks: 1\n", "triage.desks", "unknown key"),
        (BASE.replace("zendesk:", "freshdesk:"), "desks.freshdesk", "unknown desk 'freshdesk'"),
        (BASE + "staff_domains: example.com\n", "staff_domains", "valid list"),
        (BASE + "staff_domains: [example.com, 'example com']\n", "staff_domains", "not an email domain"),
        (
            BASE.replace(
                "      request_type: technical_support", "      request_type: feedback\n      request_type: incident"
            ),
            "triage.rules[0].request_type",
            "duplicate key: YAML keeps only the last one (line 11)",
        ),
        (BASE + "triage: {}\n", "triage", "duplicate key"),
        (
            BASE.replace(
                "    - name: bug",
                "    - name: bug\n      match: {tags: [x]}\n      request_type: feedback\n    - name: bug",
                1,
            ),
            "triage.rules",
            "rule name 'bug' is used twice",
        ),
    ],
)
def test_each_problem_names_its_key_path(tmp_path: Path, text: str, where: str, message: str) -> None:
    found = problems(tmp_path, text)
    assert any(w == where and message in m for w, m in found), found


def test_problems_carry_the_yaml_line(tmp_path: Path) -> None:
    text = BASE.replace("match: {keywords: [error]}", "match: {regex: '('}")
    (found,) = problems(tmp_path, text)
    line = textwrap.dedent(text).splitlines().index("      match: {regex: '('}") + 1
    assert found[1].endswith(f"(line {line})")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert "cannot read" in validate_policy_file(missing)[0].message
    (bad,) = problems(tmp_path, "triage: [unclosed\n")
    assert bad[0].startswith("line ") and "not valid YAML" in bad[1]
    (top,) = problems(tmp_path, "- a list\n")
    assert "must be a mapping" in top[1]


def test_load_policy_raises_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("{group: support}", "{group: nowhere, strategy: random}") + "x: 1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    wheres = {p.where.removeprefix(f"{path}: ") for p in info.value.problems}
    assert {"x", "triage.rules[0].assign.strategy"} <= wheres


def test_shadow_flags_and_display_names(tmp_path: Path) -> None:
    text = BASE.replace('groups: {support: "201"}', 'groups: {support: "201"}\n    shadow: true')
    text += "  request_types: {feedback: Product feedback}\n"
    policy = load_policy(write(tmp_path, text))
    assert policy.shadow("zendesk") and not policy.shadow("jira")
    assert policy.triage.request_types["feedback"] == "Product feedback"
    assert policy.triage.request_types["incident"] == "Incident"


def test_adapter_settings_have_no_sandbox_defaults(tmp_path: Path) -> None:
    """A real account's policy that names no field ids gets none: never the sandbox's 900001."""
    text = "desks:\n  zendesk: {groups: {support: '1'}}\n  jira: {groups: {support: s}}\n"
    policy = load_policy(write(tmp_path, text))
    assert policy.desk("zendesk").request_type_field is None  # type: ignore[attr-defined]
    assert policy.desk("jira").service_project is None  # type: ignore[attr-defined]
