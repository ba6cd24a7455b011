"""`helpdesk-bot check-config`: every problem in the environment and the policy file, with its location."""

from __future__ import annotations

from bot.config import Problem, Settings, settings_problems


def all_problems(settings: Settings) -> list[str]:
    from bot.policy.schema import validate_policy_file

    problems: list[Problem | object] = list(settings_problems(settings))
    policy = settings.helpdesk_bot_policy
    if policy is None or policy.is_file():
        problems.extend(validate_policy_file(policy))
    return [str(p) for p in problems]
