"""Customer-facing texts: Jinja2 templates with defaults in this folder, each overridable in the policy file.

Rendering is sandboxed (a policy author cannot reach Python objects) and strict (a misspelt variable
is an error at validation time, not an empty hole in a message a customer reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

DEFAULTS: dict[str, str] = {
    path.name.removesuffix(".j2"): path.read_text(encoding="utf-8")
    for path in sorted(Path(__file__).parent.glob("*.j2"))
}
"""Default texts by name (`first_response.<request type>`, `phone_only`, `incident_call_note`, `triage_note`, and
the follow-up ladder's `strike_1`..`strike_3`, `strike_1_chat`, `voicemail_script`, `resolved_no_response`,
`quick_resolve`, `quick_resolve_approval`, `confirmed_resolved`, `resolved_unconfirmed`, `resolved_ignored`,
`resolved_dev_bug`; the feedback runbook's `feedback_recorded`),
one `<name>.j2` file each next to this module, so they can be read and copied as they are."""

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
    "short_description": "Export to CSV fails",
    "reopen_days": 7,
    "strike": 2,
    "strikes": 3,
    "department": "Service Desk",
    "reason": "We need some information from you to continue working on it.",
    "attempts": 2,
    "resolution": "User not responded",
    "bug_key": "DEV-12",
    "idea_reference": "APP-I-12",
    "kind": "update",
    "due": "Tue 01 Dec 15:00 UTC",
    "next_update": "Wed 02 Dec 11:00 UTC",
    "sla": ["Time to first response: 2h 10m left (boundary Tue 01 Dec 17:00 UTC)"],
    "events": ["Tue 01 Dec 09:12 UTC: customer replied: “Still failing”"],
    "public_events": ["Tue 01 Dec 09:12 UTC: customer replied: “Still failing”"],
    "next_steps": ["Answer: “Is there a workaround?”"],
    "mood": "negative (-0.48, change -0.60)",
    "mood_inputs": ["+0.12 “Thanks, trying it now”", "-0.48 “Still failing”"],
    "suggestions": ["Raise the priority (now normal): the customer's mood fell by 0.60"],
    "prepared": "Hello Cathy, ...",
}
"""Every variable a template may use, with a plausible value: validation trial-renders overrides with these."""

OPTIONAL = ("agent_name", "customer_email", "ticket_url")
"""Variables that are None when unknown (no agent chosen, no email, no link): templates must cope with that."""

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def render(name: str, overrides: Mapping[str, str], values: Mapping[str, Any]) -> str:
    """The text of template `name` (the policy's override, else the default) filled with `values`."""
    return _compiled(overrides.get(name, DEFAULTS[name])).render(**values).strip()


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """Compiling is most of a render's cost, and the same few texts are rendered for every ticket."""
    return _ENV.from_string(source)
