"""A stateful fake of the Aha! REST API v1 endpoints the feedback adapter uses, at their real paths.

`POST /api/v1/products/{product}/ideas` (the body wrapped in `idea`; `name` required; tags and categories
as comma-separated text; answered 200 with the whole idea, as Aha!'s own spec records), `GET
/api/v1/products/{product}/ideas` and `GET /api/v1/ideas` (filters `q` on the name, `tag`; `page` and
`per_page`; `{"ideas": [...], "pagination": {...}}` with the list subset of each idea) and `GET
/api/v1/ideas/{id or reference}`. Products are found by key or numeric id; reference numbers are
`{prefix}-I-{n}`. Without a bearer token the answer is 401 in HTML, as on Aha!. Seeded with the demo
product `APP` ("Helpdesk App") holding one idea.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.sandbox_kit import SandboxControl, control_blueprint, guard

PRODUCTS = ({"id": "131414752", "reference_prefix": "APP", "name": "Helpdesk App"},)
LIST_FIELDS = ("id", "reference_num", "name", "created_at", "updated_at", "workflow_status", "description", "url")


def error_body(status: int) -> dict[str, Any]:
    message = {400: "Bad request", 404: "Record not found", 429: "Rate limit exceeded"}.get(status, "Error")
    return {"errors": {"message": message}}


def rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"X-Ratelimit-Limit": str(limit), "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Reset": str(reset)}


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or status)
        self.status = status
        self.body = {"errors": {"message": message}} if message else error_body(status)


@dataclass
class State:
    ideas: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, itertools.count[int]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(6776881149487483845))


class AhaSandbox:
    desk = "aha"

    def __init__(self) -> None:
        self.control = SandboxControl("aha", error_body, rate_headers)
        self.state = State()
        self._lock = threading.RLock()

    def reset(self, seed: bool) -> None:
        with self._lock:
            self.state = State(numbers={p["reference_prefix"]: itertools.count(1) for p in PRODUCTS})
            if seed:
                self.create("APP", {"name": "Dark mode", "description": "Requested by several customers."}, "")

    def _product(self, ref: str) -> dict[str, str]:
        found = next((p for p in PRODUCTS if ref in (p["id"], p["reference_prefix"])), None)
        if found is None:
            raise ApiError(404)
        return dict(found)

    def create(self, product_ref: str, data: dict[str, Any], base: str) -> dict[str, Any]:
        product = self._product(product_ref)
        if not str(data.get("name") or "").strip():
            raise ApiError(400, "Name can't be blank")
        number = f"{product['reference_prefix']}-I-{next(self.state.numbers[product['reference_prefix']])}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        idea_id = str(next(self.state.ids))
        creator = str(data.get("created_by") or "no-reply@aha.io")
        idea = {
            "id": idea_id,
            "name": str(data["name"]),
            "reference_num": number,
            "created_at": stamp,
            "updated_at": stamp,
            "product_id": product["id"],
            "votes": int(data.get("initial_votes") or 0),
            "initial_votes": int(data.get("initial_votes") or 0),
            "score": 0,
            "workflow_status": {"id": "3259216", "name": "New", "position": 1, "complete": False, "color": "#dce7c6"},
            "description": {
                "id": str(next(self.state.ids)),
                "body": str(data.get("description") or ""),
                "attachments": [],
            },
            "visibility": "Visible to all ideas portal users",
            "url": f"{base}/ideas/ideas/{number}",
            "resource": f"{base}/api/v1/ideas/{number}",
            "product": product,
            "created_by_user": {"id": str(next(self.state.ids)), "name": creator, "email": creator},
            "assigned_to_user": None,
            "endorsements_count": 0,
            "comments_count": 0,
            "tags": _split(data.get("tags")),
            "categories": _split(data.get("categories")),
            "custom_fields": [],
            "integration_fields": [],
        }
        self.state.ideas[idea_id] = idea
        return idea

    def _find(self, ref: str) -> dict[str, Any]:
        idea = self.state.ideas.get(ref) or next(
            (i for i in self.state.ideas.values() if i["reference_num"] == ref), None
        )
        if idea is None:
            raise ApiError(404)
        return idea

    def _list(self, ideas: list[dict[str, Any]]) -> dict[str, Any]:
        args = request.args
        if args.get("tag"):
            ideas = [i for i in ideas if args["tag"] in i["tags"]]
        if args.get("q"):
            ideas = [i for i in ideas if args["q"].lower() in i["name"].lower()]
        ideas = sorted(ideas, key=lambda i: i["created_at"], reverse=True)
        per_page = max(1, min(int(args.get("per_page") or 30), 200))
        page = max(1, int(args.get("page") or 1))
        chunk = ideas[(page - 1) * per_page : page * per_page]
        return {
            "ideas": [{k: i[k] for k in (*LIST_FIELDS, "resource")} for i in chunk],
            "pagination": {
                "total_records": len(ideas),
                "total_pages": max(1, -(-len(ideas) // per_page)),
                "current_page": page,
            },
        }

    def unrouted(self, status: int) -> Response | None:
        if not request.path.startswith("/api/v1/"):
            return None
        resp = jsonify(error_body(404) if status == 404 else {"errors": {"message": "Method not allowed"}})
        resp.status_code = status
        return resp

    def blueprints(self) -> tuple[Blueprint, Blueprint]:
        api = Blueprint("aha_api", __name__, url_prefix="/api/v1")
        guard(api, self.control)
        sb = self

        def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
            def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
                def view(**kw: Any) -> Response:
                    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
                    if scheme.lower() != "bearer" or not token.strip():
                        return Response(
                            "<html><body>You are being redirected.</body></html>", 401, mimetype="text/html"
                        )
                    try:
                        with sb._lock:
                            status, body = fn(**kw)
                    except ApiError as exc:
                        status, body = exc.status, exc.body
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        status, body = 400, {"errors": {"message": f"Invalid request: {exc}"}}
                    resp = jsonify(body)
                    resp.status_code = status
                    return resp

                api.add_url_rule(rule, fn.__name__, view, methods=methods)
                return fn

            return wrap

        @route("/products/<product>/ideas", ["POST"])
        def create_idea(product: str) -> tuple[int, Any]:
            data = request.get_json(force=True)
            if not isinstance(data, dict) or not isinstance(data.get("idea"), dict):
                raise ApiError(400, 'The body must be {"idea": {...}}')
            return 200, {"idea": sb.create(product, data["idea"], request.host_url.rstrip("/"))}

        @route("/products/<product>/ideas", ["GET"])
        def product_ideas(product: str) -> tuple[int, Any]:
            pid = sb._product(product)["id"]
            return 200, sb._list([i for i in sb.state.ideas.values() if i["product_id"] == pid])

        @route("/ideas", ["GET"])
        def all_ideas() -> tuple[int, Any]:
            return 200, sb._list(list(sb.state.ideas.values()))

        @route("/ideas/<ref>", ["GET"])
        def get_idea(ref: str) -> tuple[int, Any]:
            return 200, {"idea": sb._find(ref)}

        return api, control_blueprint("aha", self.control, None, self.reset)


def _split(value: Any) -> list[str]:
    """Tags and categories come as comma-separated text (a list is taken too)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(i).strip() for i in items if str(i).strip()]
