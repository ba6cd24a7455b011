"""A small builder for the Atlassian Document Format (ADF), the JSON that Jira Cloud's REST v3 takes for
descriptions and comments.

Jira Cloud rejects (400) or silently mangles a body that is not ADF, and a mention only notifies someone
as a `mention` node with their accountId, so every rich text the bot writes on Cloud is built here:
paragraphs, headings, ordered and bullet lists, links and mentions, nothing more. `from_text` turns the
plain text the policy and templates produce into that structure (`## ` headings, `1.`/`-` list lines,
URLs as links), so callers keep writing text; `from_lines` keeps a text line for line, for a field the bot
reads back and compares (`plain` is the way back). Every node built here validates against Atlassian's JSON
schema of ADF (`tests/fixtures/jira/adf/full.json`); one rule to keep in mind is that a text node may
not be empty, which is why empty strings never become text nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Node = dict[str, Any]
Inline = Node | str
"""An inline node, or text (which becomes a text node, with its URLs as links)."""

_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_ORDERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*•]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def doc(*blocks: Node) -> Node:
    """The document: version 1 with its block nodes (an empty document is valid)."""
    return {"type": "doc", "version": 1, "content": list(blocks)}


def text(value: str, *, href: str | None = None, strong: bool = False) -> list[Node]:
    """`value` as text nodes: one node, or none for an empty string (ADF forbids empty text nodes)."""
    if not value:
        return []
    node: Node = {"type": "text", "text": value}
    marks: list[Node] = []
    if strong:
        marks.append({"type": "strong"})
    if href:
        marks.append({"type": "link", "attrs": {"href": href}})
    if marks:
        node["marks"] = marks
    return [node]


def link(label: str, href: str) -> list[Node]:
    """Text that links to `href` (the URL itself when `label` is empty)."""
    return text(label or href, href=href)


def mention(account_id: str, name: str | None = None) -> Node:
    """A mention that notifies the person with this accountId; `text` is what readers see (`@Name`)."""
    attrs: Node = {"id": account_id}
    if name:
        attrs["text"] = name if name.startswith("@") else f"@{name}"
    return {"type": "mention", "attrs": attrs}


def inlines(*parts: Inline | Sequence[Node]) -> list[Node]:
    """Inline nodes from strings (URLs linked), nodes and lists of nodes, in order."""
    out: list[Node] = []
    for part in parts:
        if isinstance(part, str):
            out += _linked(part)
        elif isinstance(part, Mapping):
            out.append(dict(part))
        else:
            out += [dict(p) for p in part]
    return out


def paragraph(*parts: Inline | Sequence[Node]) -> Node:
    return {"type": "paragraph", "content": inlines(*parts)}


def heading(level: int, *parts: Inline | Sequence[Node]) -> Node:
    if not 1 <= level <= 6:
        raise ValueError(f"ADF headings have levels 1 to 6, not {level}")
    return {"type": "heading", "attrs": {"level": level}, "content": inlines(*parts)}


def bullet_list(items: Iterable[Inline | Sequence[Node]]) -> Node:
    return _list("bulletList", items)


def ordered_list(items: Iterable[Inline | Sequence[Node]], start: int = 1) -> Node:
    node = _list("orderedList", items)
    if start != 1:
        node["attrs"] = {"order": start}
    return node


def _list(kind: str, items: Iterable[Inline | Sequence[Node]]) -> Node:
    content = [{"type": "listItem", "content": [paragraph(item)]} for item in items]
    if not content:
        raise ValueError(f"an ADF {kind} needs at least one item")
    return {"type": kind, "content": content}


def from_text(value: str, mentions: Sequence[Node] = ()) -> Node:
    """A document from plain text: a `#`…`######` line is a heading, runs of `1.`/`1)` lines an ordered
    list, runs of `-`/`*`/`•` lines a bullet list, other lines paragraphs (an empty line an empty
    paragraph, as the text had it). `mentions` open the first paragraph, so the people are named first."""
    blocks: list[Node] = []
    lines = value.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        for pattern, build in ((_ORDERED, ordered_list), (_BULLET, bullet_list)):
            if pattern.match(line):
                items: list[str] = []
                while index < len(lines) and (hit := pattern.match(lines[index])):
                    items.append(hit.group(1).strip())
                    index += 1
                blocks.append(build(items))
                break
        else:
            hit = _HEADING.match(line)
            blocks.append(heading(len(hit.group(1)), hit.group(2).strip()) if hit else paragraph(line))
            index += 1
    if mentions:
        people: list[Node] = []
        for node in mentions:
            people += [dict(node), {"type": "text", "text": " "}]
        if blocks and blocks[0]["type"] == "paragraph":
            blocks[0]["content"] = people + blocks[0]["content"]
        else:
            blocks.insert(0, paragraph(people))
    return doc(*blocks)


def from_lines(value: str) -> Node:
    """A document of one paragraph per line of `value` (an empty line an empty paragraph), nothing read as a
    heading or a list: `plain` gives `value` back exactly, which a field the bot compares with what it wrote
    needs (the follow-up field). `from_text` would write `* a` back as `- a`."""
    return doc(*(paragraph(line) for line in value.split("\n")))


def _linked(value: str) -> list[Node]:
    """Text with every http(s) URL in it as a link, so a ticket link in a note can be clicked."""
    out: list[Node] = []
    position = 0
    for hit in _URL.finditer(value):
        url = hit.group(0).rstrip(".,;:!?")
        out += text(value[position : hit.start()])
        out += link(url, url)
        position = hit.start() + len(url)
    out += text(value[position:])
    return out


def plain(value: Any) -> str | None:
    """Text of an ADF document (v3 descriptions and comments), or the string itself (v2, Data Center):
    blocks on their own lines, list items prefixed as they were written, mentions as `@Name`."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return str(value)
    kind = value.get("type")
    if kind == "text":
        return str(value.get("text", ""))
    if kind == "mention":
        attrs = value.get("attrs") or {}
        return str(attrs.get("text") or f"@{attrs.get('id', '')}")
    if kind == "hardBreak":
        return "\n"
    children = value.get("content") or []
    if kind in ("orderedList", "bulletList"):
        start = int((value.get("attrs") or {}).get("order", 1))
        marks = [f"{start + i}. " if kind == "orderedList" else "- " for i in range(len(children))]
        return "\n".join(m + (plain(c) or "") for m, c in zip(marks, children, strict=True))
    if kind == "heading":
        level = int((value.get("attrs") or {}).get("level", 1))
        return "#" * level + " " + "".join(plain(c) or "" for c in children)
    joiner = "\n" if kind in ("doc", "listItem", "blockquote") else ""
    return joiner.join(plain(c) or "" for c in children)
