"""The errors of talking to a desk, in the project's own terms.

An adapter translates its client's exceptions into these in one place, so the task layer maps each to a
retry schedule (tasks/base.py) without knowing which desk raised it.
"""

from __future__ import annotations

from typing import Any


class HelpdeskError(Exception):
    """Base of every connector error; `permanent` errors are never retried."""

    permanent = False


class RateLimited(HelpdeskError):
    """The desk said 429 (or 503 with Retry-After): wait `retry_after` seconds, not less."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


class Conflict(HelpdeskError):
    """The ticket changed since the snapshot the write was decided from: re-read and decide again."""


class NotFound(HelpdeskError):
    permanent = True


class AuthError(HelpdeskError):
    permanent = True


class InvalidRequest(HelpdeskError):
    """The desk rejected the request's content; retrying the same request cannot help."""

    permanent = True

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


class Unavailable(HelpdeskError):
    """A transient fault (5xx, timeout, connection refused): back off and retry."""
