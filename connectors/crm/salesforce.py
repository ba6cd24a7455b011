"""Account owners from Salesforce, over simple-salesforce: one SOQL query per lookup.

`SELECT Id, Name, Website, Owner.Name, Owner.Email FROM Account WHERE Website LIKE '%<domain>%' OR
Name = '<organization>'` (values escaped with `format_soql`), all pages followed (`nextRecordsUrl`). The
Website field is free text, so the LIKE only narrows: an account counts for a domain when its website's
host is the domain or a subdomain of it, and a website match wins over a name match.

Login is simple-salesforce's own: the SOAP login with username, password and security token, or the
OAuth username-password flow of a connected app (consumer key and secret). It logs in on the first
lookup, not at start-up, and again by itself when the session expires (401 `INVALID_SESSION_ID`).
The client speaks https to `<domain>.salesforce.com` and to the instance it is sent to; pointed at any
other URL (the sandbox), its session carries a `Rebase` transport that sends those calls there.
HTTP errors become this project's connector errors on the session (the 401 is left to the client's
refresh), so a 429 or an exhausted API allowance reaches the task layer as `RateLimited`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.format import format_soql

from bot.domain.errors import AuthError, HelpdeskError, RateLimited, Unavailable
from connectors.crm.accounts import Account, email_domain, website_matches
from connectors.http import Rebase, TimeoutSession, error_for_status, retry_after_seconds

API_VERSION = "59.0"
FIELDS = "Id, Name, Website, Owner.Name, Owner.Email"
LIMIT = 20
"""Accounts read per lookup: enough to find the right one among a few lookalike websites."""
LIMIT_EXCEEDED_WAIT = 3600.0
"""Salesforce counts API calls over a rolling 24 hours and says nothing of when room frees up: an hour."""


@dataclass(frozen=True)
class SalesforceConfig:
    """SALESFORCE_URL and the credentials of one login flow (see module docstring)."""

    url: str
    username: str
    password: str = field(repr=False)  # never in a log line or traceback
    security_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0


class SalesforceAccounts:
    """`AccountLookup` over Salesforce Accounts and their owners."""

    def __init__(self, config: SalesforceConfig) -> None:
        self.config = config
        self.session = TimeoutSession(config.timeout)
        host = (urlsplit(config.url).hostname or "").lower()
        if host.endswith(".salesforce.com") and config.url.startswith("https://"):
            self.domain = host.removesuffix(".salesforce.com")
        else:
            self.domain = "login"
            self.session.mount("https://", Rebase(config.url))
        self.session.hooks["response"].append(_raise_for_status)
        self._client: Salesforce | None = None
        self._lock = threading.Lock()

    def _sf(self) -> Salesforce:
        """The logged-in client (the login happens here, once, on first use)."""
        with self._lock:
            if self._client is None:
                c = self.config
                credentials: dict[str, Any] = {"username": c.username, "password": c.password}
                if c.security_token is not None:
                    credentials["security_token"] = c.security_token
                else:
                    credentials.update(consumer_key=c.consumer_key, consumer_secret=c.consumer_secret)
                with _errors("login"):
                    self._client = Salesforce(
                        **credentials, domain=self.domain, version=API_VERSION, session=self.session
                    )
            return self._client

    def find_account(self, *, email: str | None = None, organization: str | None = None) -> Account | None:
        """`GET /services/data/v59.0/query/?q=SELECT … FROM Account …` (then each `nextRecordsUrl`)."""
        domain = email_domain(email)
        name = (organization or "").strip()
        conditions = []
        if domain:
            conditions.append(format_soql("Website LIKE '%{:like}%'", domain))
        if name:
            conditions.append(format_soql("Name = {}", name))
        if not conditions:
            return None
        # Every value in `conditions` went through format_soql, which quotes and escapes it.
        soql = format_soql(
            "SELECT {:literal} FROM Account WHERE {:literal} ORDER BY LastModifiedDate DESC LIMIT {:literal}",
            FIELDS,
            " OR ".join(conditions),
            str(LIMIT),
        )
        sf = self._sf()
        with _errors("query Account"):
            records = list(sf.query_all_iter(soql))
        by_site = [r for r in records if domain and website_matches(r.get("Website"), domain)]
        by_name = [r for r in records if name and str(r.get("Name") or "").lower() == name.lower()]
        found = (by_site or by_name or [None])[0]
        return _account(found) if found is not None else None


def _account(record: Mapping[str, Any]) -> Account:
    owner = record.get("Owner") or {}  # null when the lookup is empty
    return Account(
        id=str(record["Id"]),
        name=str(record.get("Name") or ""),
        owner_email=(owner.get("Email") or None),
        owner_name=(owner.get("Name") or None),
        website=record.get("Website"),
        source="salesforce",
    )


def _raise_for_status(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Salesforce's HTTP errors as connector errors, except the client's own business: a 401 with
    Salesforce's error list (it logs in again and retries) and the login endpoints' answers (it raises
    `SalesforceAuthenticationFailed`). A 401 in any other shape would crash the client: it is an `AuthError`."""
    path = urlsplit(resp.url).path
    if resp.status_code < 400 or path.startswith(("/services/Soap/", "/services/oauth2/")):
        return
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:500]
    if resp.status_code == 401 and isinstance(body, list):
        return  # the client reads `[0]["errorCode"]` and logs in again on INVALID_SESSION_ID
    what = f"Salesforce {resp.request.method} {path}"
    codes = {str(e.get("errorCode")) for e in body if isinstance(e, Mapping)} if isinstance(body, list) else set()
    if "REQUEST_LIMIT_EXCEEDED" in codes:
        raise RateLimited(retry_after_seconds(resp.headers, LIMIT_EXCEEDED_WAIT), f"{what}: API allowance spent")
    raise error_for_status(resp.status_code, resp.headers, _summary(body), what)


def _summary(body: Any) -> Any:
    """Salesforce's error body is a list of `{message, errorCode}`: one line of them for the log."""
    if isinstance(body, list):
        return "; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in body if isinstance(e, Mapping))
    return body


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """What simple-salesforce raises itself (login refused, a session it could not renew) and transport
    failures, as connector errors; errors the session hook raised pass through unchanged."""
    try:
        yield
    except HelpdeskError:
        raise
    except SalesforceAuthenticationFailed as exc:
        raise AuthError(f"Salesforce {what}: {exc.code}: {exc.auth_message}") from exc
    except SalesforceError as exc:
        raise error_for_status(exc.status, {}, _summary(exc.content), f"Salesforce {what}") from exc
    except requests.RequestException as exc:
        raise Unavailable(f"Salesforce {what}: {exc}") from exc
