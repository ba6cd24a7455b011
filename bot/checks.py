"""Start-up checks (`helpdesk-bot check-config`, and web/worker/beat before they start): every problem in
the environment, the policy file and the Celery settings, with its location."""

from __future__ import annotations

from typing import Any

from bot.config import Problem, Settings, settings_problems

PUBLISH_EXPECTS: dict[str, Any] = {
    "task_serializer": "json",
    "task_compression": None,
    "task_protocol": 2,
    "task_default_priority": None,
    "security_key": None,
    "security_certificate": None,
    "security_cert_store": None,
}
"""Celery settings `tasks/publish.py` assumes when it writes the intake message itself: any other value
would be ignored by it (a JSON, uncompressed, unsigned protocol-2 message at priority 0 is sent whatever
they say), so workers would get messages unlike the ones Celery would send."""


def publish_problems(app: Any) -> list[Problem]:
    """Settings of the Celery `app` that the hand-built intake message would silently ignore."""
    from bot.webhooks import INTAKE_TASK
    from tasks.celery_app import INTAKE_QUEUE

    problems = [
        Problem(f"celery {name}", f"must be {expected!r} (got {app.conf.get(name)!r}): tasks/publish.py ignores it")
        for name, expected in PUBLISH_EXPECTS.items()
        if app.conf.get(name) != expected
    ]
    route = app.amqp.router.route({}, INTAKE_TASK, (), {})
    queue = getattr(route.get("queue"), "name", route.get("queue"))
    if queue != INTAKE_QUEUE:
        problems.append(
            Problem(
                "celery task_routes",
                f"{INTAKE_TASK} is routed to {queue!r}: tasks/publish.py always enqueues on {INTAKE_QUEUE!r}",
            )
        )
    return problems


def all_problems(settings: Settings) -> list[str]:
    from bot.policy.schema import validate_policy_file
    from tasks.celery_app import app

    problems: list[Problem | object] = list(settings_problems(settings))
    policy = settings.helpdesk_bot_policy
    if policy is None or policy.is_file():
        found = validate_policy_file(policy)
        problems.extend(found)
        if not found and settings.aha_url:
            problems.extend(_aha_problems(settings))
    problems.extend(publish_problems(app))
    return [str(p) for p in problems]


def _aha_problems(settings: Settings) -> list[Problem]:
    """AHA_URL alone records nothing: the policy must say which product receives the ideas."""
    from bot.policy.schema import DEFAULT_POLICY, load_policy

    if load_policy(settings.helpdesk_bot_policy).feedback.aha is None:
        where = settings.helpdesk_bot_policy or DEFAULT_POLICY
        return [Problem(f"{where}: feedback.aha.product", "required when AHA_URL is set")]
    return []
