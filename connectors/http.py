"""The HTTP transport every adapter talks through: auth, timeouts, and one mapping of failures to errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from bot.domain.errors import AuthError, Conflict, HelpdeskError, InvalidRequest, NotFound, RateLimited, Unavailable


def retry_after_seconds(headers: Mapping[str, str], default: float = 60.0) -> float:
    """`Retry-After` in seconds (both desks send delta-seconds); `default` when absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def error_for_status(status: int, headers: Mapping[str, str], body: Any, what: str) -> HelpdeskError:
    """The protocol error for a failed HTTP call: one mapping for every desk, so retries behave alike.

    429 (and 503 carrying Retry-After) become `RateLimited` with the server's delay, never a local guess;
    409 is `Conflict`; 5xx is transient; other 4xx are permanent and keep the desk's error body as details.
    """
    summary = _error_summary(body)
    text = f"{what}: HTTP {status}" + (f" ({summary})" if summary else "")
    if status == 429 or (status == 503 and any(k.lower() == "retry-after" for k in headers)):
        return RateLimited(retry_after_seconds(headers), text)
    if status == 409:
        return Conflict(text)
    if status == 404:
        return NotFound(text)
    if status in (401, 403):
        return AuthError(text)
    if status >= 500:
        return Unavailable(text)
    return InvalidRequest(text, body)


def _error_summary(body: Any) -> str:
    """The desk's own words for an error, short enough for a log line and `events --state failed`.

    Zendesk says `error`/`description`/`details`, Jira `errorMessages`/`errors`, JSM `errorMessage`.
    """
    if not isinstance(body, Mapping):
        return str(body or "")[:200]
    parts: list[str] = []
    for key in ("error", "description", "errorMessage"):
        if isinstance(body.get(key), str) and body[key]:
            parts.append(body[key])
    parts += [str(m) for m in body.get("errorMessages") or []]
    for source in (body.get("errors"), body.get("details")):
        if isinstance(source, Mapping):
            parts += [f"{k}: {v}" for k, v in source.items()]
    return "; ".join(parts)[:300]


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>` (API keys of Aha! and other services that take no basic auth)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class Rebase(HTTPAdapter):
    """Sends a vendor client's fixed `https://<host>` URLs to a service at another address (the sandbox).

    zenpy builds every URL from a Zendesk subdomain and simple-salesforce always speaks https to the
    instance it logged in to; a fake at `http://127.0.0.1:8001` fits neither, so the client is left
    unchanged and this transport, mounted on its session, keeps the path and query and swaps the rest.
    """

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        rebased = request.copy()
        rebased.url = self.target + parts.path + (f"?{parts.query}" if parts.query else "")
        response = super().send(rebased, *args, **kwargs)
        response.request = request  # clients pick their response handler by the URL they asked for
        return response


class TimeoutSession(requests.Session):
    """A session whose every call has a timeout, for vendor clients that send none of their own."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


class CallGate(Protocol):
    """What the transport asks before, and tells after, every HTTP call to a desk.

    Implemented by the shared per-desk API budget (`tasks/budget.py`): the transport stays free of Redis,
    and every adapter, whatever vendor client it wraps, is held to the same budget because every
    request of its session passes here.
    """

    def before_call(self) -> None:
        """Return when the call may go; may wait a bounded time, else raise `RateLimited(retry_after)`."""
        ...

    def after_call(self, status: int, headers: Mapping[str, str]) -> None:
        """Hear the desk's answer (a 429 with `Retry-After` pauses the desk for every worker)."""
        ...


class GatedTransport(HTTPAdapter):
    """The one door every request to a desk goes through: the gate admits it, then hears the answer.

    Mounted on the desk's session, it sees the vendor client's requests (zenpy's, jira's) as well as
    `JsonApi.call`'s, so a budget or a pause cannot be bypassed by calling the client directly. urllib3's
    own retries of a failed connection happen inside one `send`, i.e. within one admitted call.
    """

    def __init__(self, max_retries: Retry, gate: CallGate | None) -> None:
        super().__init__(max_retries=max_retries)
        self.gate = gate

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.gate is not None:
            self.gate.before_call()
        response = super().send(request, *args, **kwargs)
        if self.gate is not None:
            self.gate.after_call(response.status_code, response.headers)
        return response


class JsonApi:
    """One desk's HTTP session: auth, timeouts, errors mapped to this module's, and no retried writes.

    Every adapter (and the vendor client it wraps, which is handed this session) talks through it, so
    a 429 surfaces at once as `RateLimited` instead of the client sleeping inside a worker, and a write
    that may have landed is never sent a second time by the transport (only reads retry a failed
    connection). With a `gate`, every request first waits for the desk's shared API budget.
    """

    def __init__(
        self,
        base_url: str,
        auth: tuple[str, str] | AuthBase,
        timeout: float = 10.0,
        read_retries: int = 2,
        session: requests.Session | None = None,
        gate: CallGate | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=read_retries,
            connect=read_retries,
            read=0,
            status=0,
            allowed_methods={"GET", "HEAD"},
            respect_retry_after_header=False,  # a 429 goes straight to the task layer, which waits it out
        )
        self.transport = GatedTransport(retry, gate)
        self.session.mount("http://", self.transport)
        self.session.mount("https://", self.transport)
        self.session.hooks["response"].append(self._raise_for_status)

    @staticmethod
    def _raise_for_status(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        if resp.status_code < 400:
            return
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text[:500]
        what = f"{resp.request.method} {urlsplit(resp.url).path}"
        raise error_for_status(resp.status_code, resp.headers, body, what)

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """The JSON answer of `method path` (None for an empty body); transport failures are `Unavailable`."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            # A vendor client's session may apply its own timeout (jira's does); otherwise ours.
            if getattr(self.session, "timeout", None):
                resp = self.session.request(method, url, params=params, json=json)
            else:
                resp = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(f"{method} {path}: {exc}") from exc
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise Unavailable(f"{method} {path}: answer is not JSON") from exc
