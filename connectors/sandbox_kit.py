"""Machinery every fake desk shares: rate budget, fault injection, latency, call counts, webhooks out.

A desk's `sandbox.py` owns its state and its routes (a Flask blueprint at the real API paths); this
module owns what is the same for all of them, so the Zendesk and Jira fakes behave alike under load
and failure and tests can drive both through one control API (`/_sandbox/<desk>/...`).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

ErrorBody = Callable[[int], Any]
"""Builds the service's own JSON error body for a status code (Zendesk and Jira word errors differently,
Salesforce answers with a list)."""

RateHeaders = Callable[[int, int, int], Mapping[str, str]]
"""Builds the desk's rate-limit headers from (limit, remaining, seconds until reset)."""


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    body: Any = None


@dataclass(frozen=True)
class Arrival:
    """One API request as the fake desk received it: when (`clock`), which route, who, its refusal, and its path
    (which ticket a write went to: the route does not say).

    `refused` is the status the sandbox answered instead of serving it (an injected fault, its own 429),
    else None. Tests read these to measure what reached the desk, e.g. calls per minute across workers.
    """

    at: float
    key: str
    login: str | None
    refused: int | None
    path: str = ""


ARRIVALS_KEPT = 100_000


@dataclass
class SandboxControl:
    """Per-desk knobs. All methods are thread-safe: the sandbox serves requests from several threads."""

    desk: str
    error_body: ErrorBody
    rate_headers: RateHeaders
    per_minute: int | None = None
    latency: float = 0.0
    clock: Callable[[], float] = time.monotonic
    _faults: deque[Fault] = field(default_factory=deque)
    _window: deque[float] = field(default_factory=deque)
    calls: Counter[str] = field(default_factory=Counter)
    arrivals: deque[Arrival] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int, status: int, retry_after: float | None = None, body: Any = None) -> None:
        with self._lock:
            self._faults.extend(Fault(status, retry_after, body) for _ in range(count))

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._window.clear()
            self.calls.clear()
            self.arrivals.clear()
            self.latency = 0.0
            self.per_minute = None

    def before(self) -> Response | None:
        """Run before each API request: count it, delay it, fail it or rate-limit it, like the real desk."""
        key = f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"
        login = basic_login()
        with self._lock:
            self.calls[key] += 1
            fault = self._faults.popleft() if self._faults else None
            latency = self.latency
            limited = self._spend()
            refused = fault.status if fault else (limited.status_code if limited else None)
            self.arrivals.append(Arrival(self.clock(), key, login, refused, request.path))
        if latency:
            time.sleep(latency)
        if fault is not None:
            resp = jsonify(fault.body if fault.body is not None else self.error_body(fault.status))
            resp.status_code = fault.status
            if fault.retry_after is not None:
                resp.headers["Retry-After"] = f"{fault.retry_after:g}"
            return resp
        return limited

    def _spend(self) -> Response | None:
        """Sliding one-minute window; over budget answers 429 with the seconds until a slot frees."""
        if self.per_minute is None:
            return None
        now = self.clock()
        while self._window and now - self._window[0] >= 60:
            self._window.popleft()
        if len(self._window) >= self.per_minute:
            retry_after = max(1, int(60 - (now - self._window[0])) + 1)
            resp = jsonify(self.error_body(429))
            resp.status_code = 429
            resp.headers["Retry-After"] = str(retry_after)
            resp.headers.update(dict(self.rate_headers(self.per_minute, 0, retry_after)))
            return resp
        self._window.append(now)
        return None

    def after(self, resp: Response) -> Response:
        """Add the desk's rate-limit headers to every answer, as the real APIs do."""
        if self.per_minute is not None and resp.status_code != 429:
            with self._lock:
                remaining = max(0, self.per_minute - len(self._window))
                reset = int(60 - (self.clock() - self._window[0])) if self._window else 60
            resp.headers.update(dict(self.rate_headers(self.per_minute, remaining, reset)))
        return resp

    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())


class WebhookEmitter:
    """Posts signed webhooks to the bot from a background thread, like a desk's triggers would.

    Delivery never blocks the API request that caused it, and a bot that is down only loses the
    sandbox's deliveries (logged), never the sandbox's state.
    """

    def __init__(self, sign: Callable[[str, bytes], Mapping[str, str]]) -> None:
        self._sign = sign
        self.url: str | None = None
        self.secret: str | None = None
        self.sent: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[bytes, Mapping[str, str]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def configure(self, url: str | None, secret: str | None) -> None:
        self.url, self.secret = url, secret

    def emit(self, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        if not self.url or not self.secret:
            return
        body = json.dumps(payload, indent=3).encode() + b"\n"
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        all_headers.update(self._sign(self.secret, body))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((body, all_headers))

    def _run(self) -> None:
        while True:
            body, headers = self._queue.get()
            url = self.url
            if url is None:
                continue
            try:
                resp = requests.post(url, data=body, headers=dict(headers), timeout=10)
                self.sent.append({"status": resp.status_code, "body": json.loads(body)})
            except requests.RequestException as exc:
                log.warning("sandbox webhook to %s failed: %s", url, exc)
                self.sent.append({"status": None, "error": str(exc)})


def control_blueprint(
    desk: str, control: SandboxControl, emitter: WebhookEmitter | None, reset_state: Callable[[bool], None]
) -> Blueprint:
    """`/_sandbox/<desk>/...`: the test and demo knobs. Never part of the fake API itself.

    Services that send no webhooks (the CRM, the feedback tool, chat) have no `emitter` and no webhook knobs.
    """
    bp = Blueprint(f"{desk}_sandbox_control", __name__, url_prefix=f"/_sandbox/{desk}")

    @bp.post("/faults")
    def faults() -> Response:
        spec = request.get_json(force=True)
        if "latency" in spec:
            control.latency = float(spec["latency"])
        if spec.get("count"):
            control.fail_next(
                int(spec["count"]), int(spec.get("status", 503)), spec.get("retry_after"), spec.get("body")
            )
        return jsonify({"ok": True})

    @bp.post("/budget")
    def budget() -> Response:
        spec = request.get_json(force=True)
        control.per_minute = spec.get("per_minute")
        return jsonify({"ok": True})

    @bp.get("/calls")
    def calls() -> Response:
        return jsonify({"total": control.total_calls(), "by_endpoint": dict(control.calls)})

    @bp.post("/reset")
    def reset() -> Response:
        spec = request.get_json(silent=True) or {}
        control.reset()
        reset_state(bool(spec.get("seed", True)))
        return jsonify({"ok": True})

    if emitter is None:
        return bp

    @bp.post("/webhook")
    def webhook() -> Response:
        spec = request.get_json(force=True)
        emitter.configure(spec.get("url"), spec.get("secret"))
        return jsonify({"ok": True})

    @bp.get("/webhooks-sent")
    def webhooks_sent() -> Response:
        return jsonify(emitter.sent)

    return bp


def basic_login() -> str | None:
    """The login of the request's HTTP basic credentials (`email` or Zendesk's `email/token`), lower-cased.

    A fake desk accepts any password or token for its demo users: who is calling matters (the bot's own
    writes must come back as its echoes), proving it does not.
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value, validate=True).decode().split(":", 1)[0].lower()
    except (ValueError, UnicodeDecodeError):
        return None


def guard(bp: Blueprint, control: SandboxControl) -> None:
    """Put `control` in front of every route of a desk's API blueprint."""
    bp.before_request(control.before)
    bp.after_request(control.after)


class Fake(Protocol):
    """What each fake service exposes so one server can host them all (desks, CRM, feedback tool, chat)."""

    desk: str
    control: SandboxControl

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        """(the fake API at the real paths, its `/_sandbox/<desk>` control blueprint)."""
        ...

    def reset(self, seed: bool) -> None:
        """Drop all state; with `seed`, load the demo desk again."""
        ...

    def unrouted(self, status: int) -> Response | None:
        """The desk's own answer to a request no route took (404 unknown path, 405 wrong method), or None
        when the request's path is not this desk's."""
        ...


class Sandbox(Fake, Protocol):
    """A fake helpdesk: a fake service that also posts signed webhooks to the bot."""

    emitter: WebhookEmitter


Unrouted = Callable[[int], Response | None]


def make_app(parts: list[tuple[Blueprint, Blueprint]], unrouted: Sequence[Unrouted] = ()) -> Flask:
    """One Flask app serving several fake desks; their real paths do not collide.

    A request no route takes is answered by the desk whose paths it is under, with that desk's error
    body (a real client parses it), not with Flask's HTML page.
    """
    app = Flask("helpdesk_bot_sandbox")
    for api, ctl in parts:
        app.register_blueprint(api)
        app.register_blueprint(ctl)
    app.add_url_rule("/_sandbox/health", "sandbox_health", lambda: jsonify({"status": "ok"}))

    def no_route(error: HTTPException) -> Response | HTTPException:
        status = error.code or 404
        return next((r for r in (answer(status) for answer in unrouted) if r is not None), error)

    app.register_error_handler(404, no_route)
    app.register_error_handler(405, no_route)
    return app
