"""Recognise a customer's mail forwarded by a colleague, and read who originally wrote it (and who was in CC).

Mail clients write the forwarded header block differently (Gmail, Outlook desktop and web, Apple Mail,
Thunderbird) and in the user's language; all of them put a "From:" line first of a block of "Key: value"
lines. The outermost block is the customer's mail (later ones are older replies), except a block written
by the forwarder themselves (a colleague forwarding a thread that starts with their own reply), which the
caller can name in `skip`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_EMAIL = re.compile(EMAIL)
MARKERS = re.compile(
    r"^[>\s]*(?:-{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht|ursprüngliche nachricht|"
    r"message transféré|message d'origine|mensaje reenviado|mensaje original)\s*-{2,}|begin forwarded message:|"
    r"anfang der weitergeleiteten nachricht:|début du message réexpédié :?|_{10,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
"""Lines that open a forwarded block; text before the first one is the forwarder's own note."""
KEYS = {
    "from": ("from", "von", "de", "van", "da"),
    "to": ("to", "an", "à", "a", "aan", "para"),
    "cc": ("cc", "kopie", "copie"),
    "subject": ("subject", "betreff", "objet", "onderwerp", "asunto", "oggetto"),
    "date": ("date", "sent", "datum", "gesendet", "envoyé", "verzonden", "enviado", "fecha", "inviato"),
}
_KEY_OF = {alias: key for key, aliases in KEYS.items() for alias in aliases}
_HEADER = re.compile(r"^[>\s]*\*?([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ-]*)\*?\s*:\*?\s*(.*)$")
_BLOCK_LINES = 15


@dataclass(frozen=True)
class Forwarded:
    sender_email: str
    sender_name: str | None
    cc: tuple[str, ...]
    subject: str | None


def parse_forwarded(body: str, skip: Collection[str] = ()) -> Forwarded | None:
    """The original sender (and CC list, subject) of the outermost forwarded mail in `body`, if any.

    Blocks whose sender is in `skip` (lower-case emails, typically the forwarder) are passed over.
    """
    skipped = {s.lower() for s in skip}
    return next((block for block in _blocks(body) if block.sender_email not in skipped), None)


def _blocks(body: str) -> Iterator[Forwarded]:
    lines = body.replace("\r\n", "\n").split("\n")
    marker = MARKERS.search(body.replace("\r\n", "\n"))
    index = body.replace("\r\n", "\n")[: marker.start()].count("\n") if marker else 0
    while index < len(lines):
        block = _read_header(lines, index)
        if block is not None:
            yield block
        index += 1


def _read_header(lines: list[str], index: int) -> Forwarded | None:
    first = _HEADER.match(lines[index])
    if not first or _KEY_OF.get(first.group(1).lower()) != "from":
        return None
    sender = _address(first.group(2))
    if sender is None:
        return None
    fields: dict[str, str] = {}
    for line in reversed(lines[max(0, index - 6) : index]):  # Thunderbird puts Subject and Date before From
        hit = _HEADER.match(line)
        key = _KEY_OF.get(hit.group(1).lower()) if hit else None
        if hit is None or key is None:
            break
        fields.setdefault(key, hit.group(2).strip())
    last: str | None = None
    for line in lines[index + 1 : index + _BLOCK_LINES]:
        if not line.strip(" >"):
            if fields:
                break
            continue  # Apple Mail and some web clients leave a blank line after "From:"
        hit = _HEADER.match(line)
        if hit is not None and not _EMAIL.fullmatch(line.strip(" >")):
            last = _KEY_OF.get(hit.group(1).lower())
            if last is not None and last not in fields:
                fields[last] = hit.group(2).strip()
            continue  # an unknown header (Reply-To, Importance...) stays inside the block
        if last in ("to", "cc") and _EMAIL.search(line):
            fields[last] += " " + line  # a long recipient list wrapped onto the next line
            continue
        break
    if not fields:
        return None
    cc = tuple(dict.fromkeys(e.lower() for e in _EMAIL.findall(fields.get("cc", ""))))
    subject = fields.get("subject", "").strip() or None
    return Forwarded(sender[0], sender[1], cc, subject)


def _address(text: str) -> tuple[str, str | None] | None:
    """`Name <a@b>`, `"Last, First" <mailto:a@b>`, `Name [mailto:a@b]`, or a bare `a@b`."""
    found = _EMAIL.search(text)
    if not found:
        return None
    name = text[: found.start()].replace("mailto:", "").replace("*", "")
    name = name.strip().rstrip("<[(").strip().strip('"').strip("'").strip()
    return found.group(0).lower(), name or None
