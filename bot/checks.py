"""`helpdesk-bot check-config`: every problem in the environment and the policy file, with its location."""

from __future__ import annotations

from bot.config import Problem, Settings, settings_problems


def all_problems(settings: Settings) -> list[str]:
    from bot.policy.schema import validate_policy_file

    problems: list[Problem | object] = list(settings_problems(settings))
    policy = settings.helpdesk_bot_policy
    if policy is None or policy.is_file():
        found = validate_policy_file(policy)
        problems.extend(found)
        if not found and settings.aha_url:
            problems.extend(_aha_problems(settings))
    return [str(p) for p in problems]


def _aha_problems(settings: Settings) -> list[Problem]:
    """AHA_URL alone records nothing: the policy must say which product receives the ideas."""
    from bot.policy.schema import DEFAULT_POLICY, load_policy

    if load_policy(settings.helpdesk_bot_policy).feedback.aha is None:
        where = settings.helpdesk_bot_policy or DEFAULT_POLICY
        return [Problem(f"{where}: feedback.aha.product", "required when AHA_URL is set")]
    return []
