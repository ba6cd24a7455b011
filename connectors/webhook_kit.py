"""Webhook intake primitives shared by every desk's `webhook.py`: rejections, ignores, HMAC checks."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


class WebhookRejected(Exception):
    """A delivery refused with an HTTP status and a reason the sender (and our metrics) can read."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Ignored:
    """A well-formed delivery the bot deliberately does not act on (answered 200 with the reason)."""

    reason: str


def hmac_sha256(secret: str, message: bytes) -> bytes:
    """HMAC-SHA256 keyed with the secret's text as given (neither desk base64-decodes it)."""
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def same_digest(expected: bytes | str, given: bytes | str) -> bool:
    """Constant-time comparison, so response timing leaks nothing about the expected signature."""
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)
