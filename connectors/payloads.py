"""Building blocks for the typed shapes of desk webhook bodies (`connectors/<desk>/payloads.py`).

Each desk validates only the fields the bot reads, with pydantic, before it builds an `Event`: a field that is
missing where required, of the wrong type, out of range or oversized is refused with `400` and a reason that
names the field, instead of surfacing later as a `TypeError` (a 500). Fields the bot does not read are ignored
here (the raw payload is still kept with the event), so a desk adding fields never breaks intake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from connectors.webhook_kit import WebhookRejected

MAX_ID = 2**63 - 1
"""Desks' numeric ids fit a signed 64-bit integer (Zendesk ids are up to 19 digits)."""


class Payload(BaseModel):
    """A vendor JSON object: unknown fields ignored, known ones typed."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _id_text(value: Any) -> Any:
    """Ids arrive as strings (Zendesk event subscriptions, templates) or numbers (older bodies): keep text.
    A boolean is never an id, and a number must be a positive 64-bit integer."""
    if isinstance(value, bool):
        raise ValueError("an id must be a string or an integer, not a boolean")
    if isinstance(value, int):
        if not 0 <= value <= MAX_ID:
            raise ValueError(f"an id must be between 0 and {MAX_ID}")
        return str(value)
    return value


Id = Annotated[str, BeforeValidator(_id_text), StringConstraints(strip_whitespace=True, max_length=128)]
"""A desk's id for a user, event or delivery, as text."""


def _numeric(value: str) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise ValueError("must be a number of at most 19 digits")
    return text


NumericId = Annotated[str, BeforeValidator(_id_text), AfterValidator(_numeric)]
"""A numeric id (a Zendesk ticket id), as text of at most 19 digits."""
ShortText = Annotated[str, StringConstraints(max_length=1024)]
"""A name, type, key or timestamp: never long in a real body."""
Flag = bool | Annotated[str, StringConstraints(max_length=16)]
"""A yes/no that templates send as text (`"true"`) and native bodies as a boolean."""

M = TypeVar("M", bound=Payload)


def validated(model: type[M], payload: Mapping[str, Any], what: str) -> M:
    """`payload` as `model`, or `WebhookRejected(400)` naming the first few offending fields."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        found = (f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False))
        problems = list(dict.fromkeys(found))  # a union reports once per branch
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise WebhookRejected(400, f"invalid {what}: {'; '.join(problems[:3])}{more}") from exc


def _where(loc: tuple[int | str, ...]) -> str:
    """`changelog.items[2].field` from pydantic's location tuple (union branch names dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("str", "int", "bool", "function-", "list[", "constrained-")):
            out += f".{part}" if out else part
    return out or "body"
