"""A fake of Slack's and Google Chat's incoming webhooks that records what it would have posted.

- Slack: `POST /services/{team}/{bot}/{secret}` with JSON `{"text": …}` (or `blocks`/`attachments`):
  200 `ok` in plain text; a body that is not JSON is 400 `invalid_payload`, one with no text 400
  `no_text`, as Slack answers (plain-text error codes, not JSON).
- Google Chat: `POST /v1/spaces/{space}/messages?key=…&token=…` with a `Message`: 200 with the message
  (`name`, `thread.name`; the same `thread.threadKey` lands in the same thread), 400 in Google's JSON
  error shape for a body that is not a message, 401 without `key` and `token`.
`GET /_sandbox/chat/posts` lists what was posted, oldest first (`service`, `channel`, `text`, `thread`,
`body`); the usual `/_sandbox/chat/faults` and `/budget` knobs make it fail or rate-limit (429 with
`Retry-After`, as Slack does).
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.sandbox_kit import SandboxControl, control_blueprint, guard


def error_body(status: int) -> dict[str, Any]:
    return {"error": {"code": status, "message": "The service is unavailable.", "status": "UNAVAILABLE"}}


def rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {}


class ChatSandbox:
    desk = "chat"

    def __init__(self) -> None:
        self.control = SandboxControl("chat", error_body, rate_headers)
        self.posts: list[dict[str, Any]] = []
        self._threads: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def reset(self, seed: bool) -> None:
        with self._lock:
            self.posts = []
            self._threads = {}

    def _record(self, service: str, channel: str, body: dict[str, Any], thread: str | None) -> None:
        with self._lock:
            self.posts.append(
                {"service": service, "channel": channel, "text": body.get("text"), "thread": thread, "body": body}
            )

    def unrouted(self, status: int) -> Response | None:
        """Slack's `no_service` for a webhook path it does not know, Google's JSON error for a Chat path."""
        if request.path.startswith("/v1/spaces/"):
            return _google_error(status, "Requested entity was not found.", "NOT_FOUND")
        if request.path.startswith("/services/"):
            return Response("no_service", status, mimetype="text/plain")
        return None

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        api = Blueprint("chat_api", __name__)
        guard(api, self.control)
        sb = self

        @api.post("/services/<team>/<bot>/<secret>")
        def slack(team: str, bot: str, secret: str) -> Response:
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except ValueError:
                return Response("invalid_payload", 400, mimetype="text/plain")
            if not isinstance(body, dict):
                return Response("invalid_payload", 400, mimetype="text/plain")
            if not (body.get("text") or body.get("blocks") or body.get("attachments")):
                return Response("no_text", 400, mimetype="text/plain")
            sb._record("slack", f"{team}/{bot}", body, None)
            return Response("ok", 200, mimetype="text/plain")

        @api.post("/v1/spaces/<space>/messages")
        def google_chat(space: str) -> Response:
            if not request.args.get("key") or not request.args.get("token"):
                return _google_error(401, "Request is missing required authentication credential.", "UNAUTHENTICATED")
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not (body.get("text") or body.get("cardsV2")):
                return _google_error(400, "Invalid JSON payload received. Message has no text.", "INVALID_ARGUMENT")
            key = str((body.get("thread") or {}).get("threadKey") or "")
            with sb._lock:
                number = next(sb._ids)
                thread_id = sb._threads.setdefault((space, key), f"t{number}") if key else f"t{number}"
            thread = f"spaces/{space}/threads/{thread_id}"
            sb._record("google_chat", space, body, key or None)
            return jsonify(
                {
                    "name": f"spaces/{space}/messages/m{number}",
                    "sender": {"name": "users/webhook", "type": "BOT"},
                    "text": body.get("text"),
                    "createTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "thread": {"name": thread},
                    "space": {"name": f"spaces/{space}", "type": "ROOM"},
                }
            )

        control = control_blueprint("chat", self.control, None, self.reset)

        @control.get("/posts")
        def posts() -> Response:
            with sb._lock:
                return jsonify(list(sb.posts))

        return api, control


def _google_error(code: int, message: str, status: str) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "status": status}})
    resp.status_code = code
    return resp
