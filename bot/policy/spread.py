"""When a periodic sweep's message reaches the customer: spread over their business day, not all at its opening.

A sweep that runs after a night or a weekend finds every strike, resolve and posted ping that fell due meanwhile.
Sent as soon as the customer's business hours begin, the whole backlog would land at 09:00 on Monday: customers
of one desk all written to in the same minute, and their replies arriving together for the agents. Each ticket
instead has its own slot in the customer's day, a stable hash of desk and ticket id spread over
`sweeps.spread_window`, and a message goes out at the first moment at or after both its due time and that day's
slot, within business hours. The slot is the same every day, so a ticket's strikes stay one business day apart.

Only sweep messages to customers go through here; event-driven replies (a first response, the answer to a
customer's comment) and internal drafts for agents are never held back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from bot.policy.calendar import BusinessCalendar, hours_range

if TYPE_CHECKING:
    from bot.policy.schema import Policy


def share(desk: str, ticket_id: str) -> float:
    """Where in the window the ticket's slot lies (0 <= share < 1): the same in every process and on every run,
    unlike Python's salted `hash`."""
    digest = hashlib.sha256(f"{desk}:{ticket_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sends_at(policy: Policy, desk: str, ticket_id: str, cal: BusinessCalendar, earliest: datetime) -> datetime:
    """The first moment at or after `earliest` (the later of the due time and now) at which the sweep message of
    ticket `ticket_id` may go out: its slot of a business day or later that day with `sweeps.spread`, else the
    next working moment."""
    if not policy.sweeps.spread:
        return cal.next_working_moment(earliest)
    return cal.after_slot(earliest, share(desk, ticket_id), hours_range(policy.sweeps.spread_window))
