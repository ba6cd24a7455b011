"""Customer-facing texts: Jinja2 templates with defaults here, each overridable in the policy file.

Rendering is sandboxed (a policy author cannot reach Python objects) and strict (a misspelt variable
is an error at validation time, not an empty hole in a message a customer reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

_FIRST = "Hello {{ customer_name }},\n\nthank you for contacting us. Your request #{{ ticket_id }} "

DEFAULTS: dict[str, str] = {
    "first_response.general_inquiry": _FIRST
    + "has been received and {{ agent_name or 'our team' }} will answer it shortly.\n\nKind regards,\nSupport",
    "first_response.technical_support": _FIRST
    + "is with our technical support team ({{ agent_name or 'an engineer' }}). To speed things up, please reply "
    "with the steps to reproduce the problem, the time it happened and any error message you saw.\n\n"
    "Kind regards,\nSupport",
    "first_response.configuration_change": _FIRST
    + "for a configuration change has been received. {{ agent_name or 'Our team' }} will confirm the change "
    "with you before applying it.\n\nKind regards,\nSupport",
    "first_response.feedback": _FIRST
    + "has been passed to our product team. Thank you for helping us improve.\n\nKind regards,\nSupport",
    "first_response.incident": _FIRST
    + "has been registered as an incident and {{ agent_name or 'our on-call team' }} is looking into it now. "
    "We will keep you updated here.\n\nKind regards,\nSupport",
    "phone_only": "Hello {{ customer_name }},\n\nfor your security, requests like #{{ ticket_id }} (password "
    "resets, MFA tokens, account unlocks) can only be handled by phone. Please call the service desk at "
    "{{ phone }} ({{ hours }}) and mention request #{{ ticket_id }}.\n\nWe have resolved this ticket; if you "
    "reply, it reopens.\n\nKind regards,\nSupport",
    "incident_call_note": "{{ agent_name or 'Assignee' }}: this incident came in by email. Please phone "
    "{{ customer_name }} ({{ customer_email or 'no email' }}) now to confirm the impact, then update ticket "
    "#{{ ticket_id }}.",
    "triage_note": "Triaged by helpdesk-bot: request type {{ request_type }} (rule {{ rule }}: {{ rule_why }}). "
    "{{ assignment }}",
}

SAMPLE_VALUES: dict[str, Any] = {
    "customer_name": "Cathy",
    "customer_email": "cathy@acme.test",
    "ticket_id": "1",
    "ticket_url": "https://desk.example.com/tickets/1",
    "request_type": "technical_support",
    "request_type_name": "Technical support",
    "phone": "+1 555 0100",
    "hours": "Monday to Friday, 08:00-18:00",
    "agent_name": "Alice Agent",
    "rule": "possible-bug",
    "rule_why": "text mentions 'error'",
    "assignment": "Assigned to Alice Agent: round-robin turn 1 in support (3 eligible).",
}
"""Every variable a template may use, with a plausible value: validation trial-renders overrides with these."""

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def render(name: str, overrides: Mapping[str, str], values: Mapping[str, Any]) -> str:
    """The text of template `name` (the policy's override, else the default) filled with `values`."""
    source = overrides.get(name, DEFAULTS[name])
    return _ENV.from_string(source).render(**values).strip()
