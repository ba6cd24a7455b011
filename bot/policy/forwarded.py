"""Recognise a customer's mail forwarded by a colleague, and read who originally wrote it (and who was in CC).

Mail clients write the forwarded header block differently (Gmail, Outlook desktop and web, Apple Mail,
Thunderbird) and in the user's language; all of them put a "From:" line first or near the top of a block
of "Key: value" lines. The outermost block is the customer's mail (later ones are older replies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_EMAIL = re.compile(EMAIL)
MARKERS = re.compile(
    r"^[>\s]*(?:-{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht|ursprüngliche nachricht|"
    r"message transféré|message d'origine|mensaje reenviado|mensaje original)\s*-{2,}|begin forwarded message:|"
    r"_{10,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
KEYS = {
    "from": ("from", "von", "de", "van", "da"),
    "to": ("to", "an", "à", "a", "aan", "para"),
    "cc": ("cc", "kopie", "copie"),
    "subject": ("subject", "betreff", "objet", "onderwerp", "asunto", "oggetto"),
    "date": ("date", "sent", "datum", "gesendet", "envoyé", "verzonden", "enviado", "fecha", "inviato"),
}
_KEY_OF = {alias: key for key, aliases in KEYS.items() for alias in aliases}
_HEADER = re.compile(r"^[>\s]*\*?([A-Za-zÀ-ÿ]+)\*?\s*:\s*\*?\s*(.*)$")


@dataclass(frozen=True)
class Forwarded:
    sender_email: str
    sender_name: str | None
    cc: tuple[str, ...]
    subject: str | None


def parse_forwarded(body: str) -> Forwarded | None:
    """The original sender (and CC list, subject) of the first forwarded mail in `body`, if any."""
    lines = body.replace("\r\n", "\n").split("\n")
    marker = MARKERS.search(body)
    start = body[: marker.start()].count("\n") if marker else 0
    for index in range(start, len(lines)):
        header = _read_header(lines, index)
        if header is not None:
            return header
    return None


def _read_header(lines: list[str], index: int) -> Forwarded | None:
    first = _HEADER.match(lines[index])
    if not first or _KEY_OF.get(first.group(1).lower()) != "from":
        return None
    sender = _address(first.group(2))
    if sender is None:
        return None
    fields: dict[str, str] = {}
    for line in reversed(lines[max(0, index - 6) : index]):  # Thunderbird puts Subject and Date first
        hit = _HEADER.match(line)
        key = _KEY_OF.get(hit.group(1).lower()) if hit else None
        if hit is None or key is None:
            break
        fields.setdefault(key, hit.group(2).strip())
    for line in lines[index + 1 : index + 12]:
        if not line.strip(" >"):
            if fields:
                break
            continue
        hit = _HEADER.match(line)
        key = _KEY_OF.get(hit.group(1).lower()) if hit else None
        if hit is None or key is None:
            if fields:
                break
            continue
        fields.setdefault(key, hit.group(2).strip())
    if not fields:
        return None
    cc = tuple(e.lower() for e in _EMAIL.findall(fields.get("cc", "")))
    return Forwarded(sender[0], sender[1], cc, fields.get("subject") or None)


def _address(text: str) -> tuple[str, str | None] | None:
    """`Name <a@b>`, `"Last, First" <mailto:a@b>`, `Name [mailto:a@b]`, or a bare `a@b`."""
    found = _EMAIL.search(text)
    if not found:
        return None
    name = text[: found.start()].replace("mailto:", "")
    name = name.strip().rstrip("<[(").strip().strip('"').strip("'").strip()
    return found.group(0).lower(), name or None
