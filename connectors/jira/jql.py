"""The part of JQL the Jira sandbox evaluates, on both deployments: what the bot and the `jira` client send.

Clauses joined by `AND` on `project`, `status`, `statusCategory`, `assignee`, `reporter`, `labels`,
`Organizations` (JSM's field, by organization name as JQL takes it) and `updated` / `created` (`=`, `!=`,
`in`, `not in`, `<`, `<=`, `>`, `>=`), then `ORDER BY` (results always come by project and issue number).
What Jira would refuse (an unknown field, a status the site does not have, a clause it cannot read)
raises `JqlError` with Jira's wording, which the sandbox answers as 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

CLAUSE = re.compile(r"^\s*(\w+)\s*(=|!=|<=|>=|<|>|not in|in)\s*(.+?)\s*$", re.IGNORECASE)
Issue = TypeVar("Issue", bound=Mapping[str, Any])
FIELDS = (
    "project",
    "status",
    "statuscategory",
    "assignee",
    "reporter",
    "labels",
    "organizations",
    "updated",
    "created",
)
CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}


class JqlError(ValueError):
    """A query Jira would answer with 400; the message is Jira's."""


def user_id(user: Mapping[str, Any]) -> str:
    """A user's id on either deployment: Cloud's `accountId`, Data Center's `name`."""
    return str(user.get("accountId") or user.get("name") or "")


def select(
    issues: Iterable[Issue], jql: str, statuses: Iterable[str], organizations_field: str = "customfield_10002"
) -> list[Issue]:
    """The issues `jql` matches, by project and number; `statuses` are the status names the site has, and
    `organizations_field` the id of the site's "Organizations" field."""
    known = {s.lower() for s in statuses}
    found = list(issues)
    text = re.split(r"\s+order\s+by\s+", jql, flags=re.IGNORECASE)[0].strip()
    for clause in re.split(r"\s+AND\s+", text, flags=re.IGNORECASE) if text else []:
        hit = CLAUSE.match(clause)
        if hit is None:
            raise JqlError(f"Error in the JQL Query: '{clause}' is not understood.")
        name, op, raw = hit.group(1).lower(), hit.group(2).lower(), hit.group(3)
        if name not in FIELDS:
            raise JqlError(f"Field '{hit.group(1)}' does not exist or you do not have permission to view it.")
        values = [v.strip().strip('"').strip("'") for v in raw.strip("()").split(",")]
        if name == "status":
            unknown = [v for v in values if v.lower() not in known]
            if unknown:
                raise JqlError(f"The value '{unknown[0]}' does not exist for the field 'status'.")
        found = [i for i in found if _holds(i["fields"], name, op, values, organizations_field)]
    return sorted(found, key=lambda i: (i["fields"]["project"]["key"], int(str(i["key"]).split("-")[1])))


def _holds(fields: Mapping[str, Any], name: str, op: str, values: list[str], organizations_field: str) -> bool:
    if name == "project":
        actual: Any = fields["project"]["key"]
    elif name == "status":
        actual = fields["status"]["name"]
    elif name == "statuscategory":
        actual = CATEGORY_NAMES[fields["status"]["statusCategory"]["key"]]
    elif name == "assignee":
        actual = user_id(fields.get("assignee") or {}) or None
    elif name == "reporter":
        actual = user_id(fields.get("reporter") or {}) or None
    elif name == "labels":
        return any(v in fields["labels"] for v in values) is (op in ("=", "in"))
    elif name == "organizations":
        names = {str(o.get("name", "")).lower() for o in fields.get(organizations_field) or []}
        return any(v.lower() in names for v in values) is (op in ("=", "in"))
    else:  # updated or created
        stamp = datetime.strptime(fields[name][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        limit = datetime.strptime(values[0], "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
        return {"<": stamp < limit, "<=": stamp <= limit, ">": stamp > limit, ">=": stamp >= limit}.get(op, False)
    present = str(actual).lower() in [v.lower() for v in values]
    return present if op in ("=", "in") else not present
