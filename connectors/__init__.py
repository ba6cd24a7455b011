"""Connectors: one folder per helpdesk, each with the same parts (`webhook`, `adapter`, `sandbox`).

This registry is the only place that knows which desks exist; everything else looks a desk up by name.
Modules are imported on first use so that, e.g., the web process never loads a vendor API client.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DESK_NAMES = ("zendesk", "jira")


def webhook_module(desk: str) -> ModuleType:
    """`connectors.<desk>.webhook`: verify(), delivery_id(), parse(), sign()."""
    if desk not in DESK_NAMES:
        raise KeyError(desk)
    return importlib.import_module(f"connectors.{desk}.webhook")
