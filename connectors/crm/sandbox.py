"""A stateful fake of the Salesforce endpoints the CRM adapter uses, at their real paths.

- `POST /services/Soap/u/{version}`: the SOAP login (username, password + security token); a
  `loginResponse` with `sessionId` and `serverUrl`, or HTTP 500 with an `INVALID_LOGIN` fault.
- `POST /services/oauth2/token`: the OAuth username-password flow of a connected app; `access_token` and
  `instance_url`, or 400 `{"error": "invalid_grant", ...}`.
- `GET /services/data/v{version}/query/?q=SOQL` and `GET …/query/{locator}-{offset}`: the SOQL the adapter
  sends (SELECT fields, relationship fields like `Owner.Email` as nested objects with `attributes`, WHERE
  with `=`, `!=`, `LIKE` joined by AND/OR, ORDER BY, LIMIT) over Accounts and Users, paged with
  `nextRecordsUrl` (page size settable, 2,000 by default as on Salesforce); a query it cannot read is
  400 `MALFORMED_QUERY`.
Errors are Salesforce's JSON lists (`[{"message", "errorCode"}]`); an unknown or expired session is 401
`INVALID_SESSION_ID` in that shape, which is what makes simple-salesforce log in again. Every answer
carries `Sforce-Limit-Info`. Demo users log in with any password; the instance URL it hands out is the
sandbox's own address. Seeded with the accounts of the demo desks' customers (Acme, Globex).
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.sandbox_kit import SandboxControl, control_blueprint, guard

DEFAULT_PAGE = 2000
API_LIMIT = 15000
OBJECTS = {"Account": "001", "User": "005"}


def error_body(status: int) -> list[dict[str, str]]:
    code, message = {
        400: ("MALFORMED_QUERY", "The query is not valid."),
        401: ("INVALID_SESSION_ID", "Session expired or invalid"),
        403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        404: ("NOT_FOUND", "The requested resource does not exist"),
        429: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    }.get(status, ("UNKNOWN_EXCEPTION", "An unexpected error occurred."))
    return [{"message": message, "errorCode": code}]


def rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={max(0, limit - remaining)}/{limit}"}


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None, code: str | None = None) -> None:
        super().__init__(message or status)
        body = error_body(status)
        if message:
            body[0]["message"] = message
        if code:
            body[0]["errorCode"] = code
        self.status, self.body = status, body


@dataclass
class State:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class SalesforceSandbox:
    desk = "salesforce"

    def __init__(self) -> None:
        self.control = SandboxControl("salesforce", error_body, rate_headers)
        self.state = State()
        self.page_size = DEFAULT_PAGE
        self._lock = threading.RLock()

    # --- state -------------------------------------------------------------------------------------

    def reset(self, seed: bool) -> None:
        with self._lock:
            self.state = State()
            self.page_size = DEFAULT_PAGE
            if seed:
                self._seed()

    def _id(self, kind: str) -> str:
        return f"{OBJECTS[kind]}SB{next(self.state.ids):010d}AAA"

    def add_user(self, name: str, email: str) -> str:
        uid = self._id("User")
        self.state.users[uid] = {"Id": uid, "Name": name, "Email": email, "Username": email}
        return uid

    def add_account(self, name: str, website: str | None, owner_id: str | None) -> str:
        aid = self._id("Account")
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        self.state.accounts[aid] = {
            "Id": aid,
            "Name": name,
            "Website": website,
            "OwnerId": owner_id,
            "LastModifiedDate": stamp,
        }
        return aid

    def _seed(self) -> None:
        """The demo desks' customer organizations (customers at acme.test and globex.test) with owners:
        Acme's is Sam (an agent on both desks), Globex's is Gina, who has no desk account."""
        self.add_user("Helpdesk Bot", "bot@example.com")
        sam = self.add_user("Sam Staff", "sam@example.com")
        gina = self.add_user("Gina Growth", "gina@example.com")
        olivia = self.add_user("Olivia Other", "olivia@example.com")
        self.add_account("Acme", "https://www.acme.test", sam)
        self.add_account("Globex", "http://globex.test/", gina)
        self.add_account("Acme Testing Lab", "https://notacme.test", olivia)  # a lookalike website
        self.add_account("Initech", None, None)

    def expire_sessions(self) -> None:
        with self._lock:
            self.state.sessions.clear()

    # --- API ---------------------------------------------------------------------------------------

    def _login(self, username: str, password: str) -> str | None:
        known = any(u["Username"].lower() == username.lower() for u in self.state.users.values())
        if not known or not password:
            return None
        token = f"00DSB0000000001!{secrets.token_urlsafe(24)}"
        self.state.sessions[token] = username.lower()
        return token

    def _caller(self) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or token not in self.state.sessions:
            raise ApiError(401)
        return self.state.sessions[token]

    def _query(self, soql: str, version: str) -> dict[str, Any]:
        query = parse_soql(soql)
        table = {"Account": self.state.accounts, "User": self.state.users}.get(query.object)
        if table is None:
            raise ApiError(400, f"sObject type '{query.object}' is not supported.", "INVALID_TYPE")
        rows = [r for r in table.values() if query.holds(r, self._related)]
        order = query.order_by
        if order:
            rows.sort(key=lambda r: str(self._value(r, order) or ""), reverse=query.descending)
        if query.limit is not None:
            rows = rows[: query.limit]
        records = [self._record(query.object, r, query.fields, version) for r in rows]
        return self._page(records, 0, version, None)

    def _page(self, records: list[dict[str, Any]], offset: int, version: str, locator: str | None) -> dict[str, Any]:
        page = records[offset : offset + self.page_size]
        body: dict[str, Any] = {"totalSize": len(records), "done": offset + len(page) >= len(records), "records": page}
        if not body["done"]:
            if locator is None:
                locator = f"01gSB{next(self.state.ids):013d}"
                self.state.cursors[locator] = records
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + len(page)}"
        return body

    def _related(self, row: Mapping[str, Any], relation: str) -> Mapping[str, Any] | None:
        if relation == "Owner":
            return self.state.users.get(str(row.get("OwnerId")))
        raise ApiError(400, f"Didn't understand relationship '{relation}' in field path.", "INVALID_FIELD")

    def _value(self, row: Mapping[str, Any], path: str) -> Any:
        if "." in path:
            relation, name = path.split(".", 1)
            related = self._related(row, relation)
            return related.get(name) if related else None
        return row.get(path)

    def _record(self, kind: str, row: Mapping[str, Any], fields: list[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": _attributes(kind, str(row["Id"]), version)}
        for path in fields:
            if "." in path:
                relation, name = path.split(".", 1)
                related = self._related(row, relation)
                if related is None:
                    out[relation] = None
                    continue
                nested = out.get(relation) or {"attributes": _attributes("User", str(related["Id"]), version)}
                nested[name] = related.get(name)
                out[relation] = nested
            else:
                if path not in row and path != "Id":
                    raise ApiError(400, f"No such column '{path}' on entity '{kind}'.", "INVALID_FIELD")
                out[path] = row.get(path)
        return out

    def unrouted(self, status: int) -> Response | None:
        """Salesforce's error list for a path or method it does not have (under its own prefixes only:
        the rest of `/services/` is Slack's, in the chat fake)."""
        if not request.path.startswith(("/services/data/", "/services/Soap/", "/services/oauth2/")):
            return None
        if status == 405:
            body = [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{request.method}' not allowed."}]
        else:
            body = error_body(404)
        resp = jsonify(body)
        resp.status_code = status
        return resp

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        api = Blueprint("salesforce_api", __name__, url_prefix="/services")
        guard(api, self.control)
        sb = self

        def json_route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
                def view(**kw: Any) -> Response:
                    try:
                        with sb._lock:
                            status, body = fn(**kw)
                    except ApiError as exc:
                        status, body = exc.status, exc.body
                    resp = jsonify(body)
                    resp.status_code = status
                    resp.headers["Sforce-Limit-Info"] = f"api-usage={sb.control.total_calls()}/{API_LIMIT}"
                    return resp

                api.add_url_rule(rule, fn.__name__, view, methods=methods)
                return fn

            return wrap

        @api.post("/Soap/u/<version>")
        def soap_login(version: str) -> Response:
            text = request.get_data(as_text=True)
            with sb._lock:
                token = sb._login(_xml_value(text, "username"), _xml_value(text, "password"))
                username = sb.state.sessions.get(token or "", "")
            if token is None:
                return Response(_SOAP_FAULT, status=500, content_type="text/xml; charset=utf-8")
            server = f"{request.host_url}services/Soap/u/{version}/00DSB0000000001"
            body = _SOAP_OK.format(session=html.escape(token), server=html.escape(server), user=html.escape(username))
            return Response(body, status=200, content_type="text/xml; charset=utf-8")

        @json_route("/oauth2/token", ["POST"])
        def token() -> tuple[int, Any]:
            form = request.form
            if form.get("grant_type") != "password":
                return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
            if not form.get("client_id") or not form.get("client_secret"):
                return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            issued = sb._login(str(form.get("username") or ""), str(form.get("password") or ""))
            if issued is None:
                return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
            instance = request.host_url.rstrip("/")
            return 200, {
                "access_token": issued,
                "instance_url": instance,
                "id": f"{instance}/id/00DSB0000000001/005SB0000000001",
                "token_type": "Bearer",
                "issued_at": str(int(datetime.now(UTC).timestamp() * 1000)),
                "signature": secrets.token_urlsafe(32),
            }

        @json_route("/data/v<version>/query/", ["GET"])
        def query(version: str) -> tuple[int, Any]:
            _check_version(version)
            sb._caller()
            soql = str(request.args.get("q") or "")
            if not soql:
                raise ApiError(400, "A query string is required (q).")
            return 200, sb._query(soql, version)

        @json_route("/data/v<version>/query/<cursor>", ["GET"])
        def query_more(version: str, cursor: str) -> tuple[int, Any]:
            _check_version(version)
            sb._caller()
            locator, _, offset = cursor.rpartition("-")
            if locator not in sb.state.cursors or not offset.isdigit():
                raise ApiError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
            return 200, sb._page(sb.state.cursors[locator], int(offset), version, locator)

        control = control_blueprint("salesforce", self.control, None, self.reset)

        @control.post("/expire-sessions")
        def expire() -> Response:
            sb.expire_sessions()
            return jsonify({"ok": True})

        @control.post("/page-size")
        def page_size() -> Response:
            sb.page_size = max(1, int((request.get_json(force=True) or {}).get("size") or DEFAULT_PAGE))
            return jsonify({"ok": True})

        return api, control


def _check_version(version: str) -> None:
    if not re.fullmatch(r"\d{2,3}\.0", version):
        raise ApiError(404, code="NOT_FOUND")


def _attributes(kind: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": kind, "url": f"/services/data/v{version}/sobjects/{kind}/{record_id}"}


def _xml_value(text: str, tag: str) -> str:
    hit = re.search(rf"<(?:\w+:)?{tag}>(.*?)</(?:\w+:)?{tag}>", text, re.DOTALL)
    return html.unescape(hit.group(1)) if hit else ""


_SOAP_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>\
<metadataServerUrl>{server}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>\
<serverUrl>{server}</serverUrl><sessionId>{session}</sessionId><userId>005SB0000000001AAA</userId>\
<userInfo><organizationId>00DSB0000000001</organizationId><userEmail>{user}</userEmail>\
<userName>{user}</userName><sessionSecondsValid>7200</sessionSecondsValid></userInfo>\
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""

_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>\
<faultcode>INVALID_LOGIN</faultcode>\
<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>\
<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>\
<sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage>\
</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""


# --- SOQL: the subset the adapter sends ------------------------------------------------------------

_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[\w.]+)(?:\s+(?P<dir>ASC|DESC))?(?:\s+NULLS\s+(?:FIRST|LAST))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_TOKEN = re.compile(
    r"\s*(?:(?P<lit>'(?:[^'\\]|\\.)*')|(?P<op>!=|=|\bLIKE\b)|(?P<join>\bAND\b|\bOR\b)|(?P<name>[\w.]+))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str

    def holds(self, actual: Any) -> bool:
        text = "" if actual is None else str(actual)
        if self.op == "like":
            return _like(self.value).fullmatch(text) is not None
        equal = text.lower() == self.value.lower() and actual is not None
        return equal if self.op == "=" else not equal


@dataclass(frozen=True)
class Soql:
    fields: list[str]
    object: str
    any_of: list[list[Condition]]
    """OR of ANDs (AND binds tighter, as in SOQL); empty means every row."""
    order_by: str | None
    descending: bool
    limit: int | None

    def holds(self, row: Mapping[str, Any], related: Callable[[Mapping[str, Any], str], Any]) -> bool:
        def value(path: str) -> Any:
            if "." in path:
                relation, name = path.split(".", 1)
                target = related(row, relation)
                return target.get(name) if target else None
            return row.get(path)

        return not self.any_of or any(all(c.holds(value(c.field)) for c in group) for group in self.any_of)


def parse_soql(soql: str) -> Soql:
    hit = _SOQL.match(soql)
    if hit is None:
        raise ApiError(400, f"unexpected token in query: {soql[:80]!r}")
    fields = [f.strip() for f in hit.group("fields").split(",")]
    if not all(re.fullmatch(r"\w+(\.\w+)?", f) for f in fields):
        raise ApiError(400, f"unexpected token in field list: {hit.group('fields')[:80]!r}")
    groups: list[list[Condition]] = [[]] if hit.group("where") else []
    tokens = _tokens(hit.group("where") or "")
    while tokens:
        if len(tokens) < 3 or tokens[0][0] != "name" or tokens[1][0] != "op" or tokens[2][0] != "lit":
            raise ApiError(400, f"unexpected token: {' '.join(t[1] for t in tokens[:3])!r}")
        groups[-1].append(Condition(tokens[0][1], tokens[1][1].lower(), _unquote(tokens[2][1])))
        tokens = tokens[3:]
        if tokens:
            kind, word = tokens.pop(0)
            if kind != "join" or not tokens:
                raise ApiError(400, f"unexpected token: {word!r}")
            if word.upper() == "OR":
                groups.append([])
    limit = hit.group("limit")
    return Soql(
        fields=fields,
        object=hit.group("object"),
        any_of=groups,
        order_by=hit.group("order"),
        descending=(hit.group("dir") or "").upper() == "DESC",
        limit=int(limit) if limit else None,
    )


def _tokens(where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(where.rstrip()):
        hit = _TOKEN.match(where, position)
        if hit is None or hit.end() == position:
            raise ApiError(400, f"unexpected token near {where[position : position + 20]!r}")
        kind = hit.lastgroup or ""
        out.append((kind, hit.group(kind)))
        position = hit.end()
    return out


def _unquote(literal: str) -> str:
    """A quoted SOQL string with its escapes undone, except `\\%` and `\\_`, which LIKE reads."""
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(nxt, nxt))
            if nxt in "%_":
                out[-1] = "\\" + nxt
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _like(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: `%` any run, `_` one character, `\\%`/`\\_` themselves, case-insensitive."""
    parts = re.split(r"(\\%|\\_|%|_)", pattern)
    regex = "".join(
        {"%": ".*", "_": ".", "\\%": "%", "\\_": "_"}.get(part, re.escape(part)) if part else "" for part in parts
    )
    return re.compile(regex, re.IGNORECASE | re.DOTALL)
