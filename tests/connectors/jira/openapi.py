"""Check Jira traffic against Atlassian's OpenAPI documents (platform v3 and service desk) with openapi-core.

Real Jira writes timestamps as `2025-01-01T00:00:00.000+0000` (no colon in the offset) although the specs
declare RFC 3339 `date-time`; that one format check is relaxed to "Jira's format or RFC 3339", so the
sandbox keeps answering exactly like Jira and every other schema rule still applies. Each spec is parsed
once per process (they are megabytes).
"""

from __future__ import annotations

import json
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

SPECS = Path(__file__).parents[2] / "fixtures" / "jira" / "openapi"
JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def _jira_time(value: Any) -> bool:
    return not isinstance(value, str) or bool(JIRA_TIME.match(value))


@cache
def spec(name: str) -> OpenAPI:
    data = json.loads((SPECS / name).read_text())
    data["servers"] = [{"url": "/"}]
    config = Config(spec_validator_cls=None, extra_format_validators={"date-time": _jira_time})
    return OpenAPI.from_dict(data, config=config)


def spec_for(path: str) -> OpenAPI | None:
    """The document covering `path`; REST v2 and the sandbox's control routes have none."""
    if path.startswith("/rest/api/3/"):
        return spec("jira-platform-v3.json")
    if path.startswith("/rest/servicedeskapi/"):
        return spec("jsm-servicedesk.json")
    return None


class SpecCheck:
    """An `after_request` hook validating each request and its answer; violations are collected, not raised,
    so the test that caused them fails with all of them listed."""

    def __init__(self, app: Flask) -> None:
        self.violations: list[str] = []
        self.checked = 0
        self.paths: list[str] = []
        """Every request seen (method and path), checked or not."""
        app.after_request(self._check)

    def _check(self, response: Response) -> Response:
        self.paths.append(f"{request.method} {request.path}")
        document = spec_for(request.path)
        if document is None:
            return response
        self.checked += 1
        what = f"{request.method} {request.path}"
        exchange = WerkzeugOpenAPIRequest(request)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # OAuth/Connect security schemes are not checkable
            try:
                document.validate_request(exchange)
            except Exception as exc:  # openapi-core raises several unrelated types; each is a violation
                self.violations.append(f"request {what}: {_reason(exc)}")
            # 204 has no body (RFC 9110) though the specs attach `{}`; 429/5xx bodies are not specified.
            if response.status_code != 204 and response.status_code < 429:
                try:
                    document.validate_response(exchange, WerkzeugOpenAPIResponse(response))
                except Exception as exc:
                    self.violations.append(f"response {response.status_code} {what}: {_reason(exc)}")
        return response

    def take(self) -> list[str]:
        out, self.violations = self.violations, []
        return out


def _reason(exc: Exception) -> str:
    details = getattr(exc.__cause__, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if details:
        return f"{exc}: " + "; ".join(str(getattr(e, "message", e))[:300] for e in list(details)[:3])
    return f"{type(exc).__name__}: {exc} {exc.__cause__ or ''}"[:500]
