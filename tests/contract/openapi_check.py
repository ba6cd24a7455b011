"""Validate the Jira traffic of a test against Atlassian's own OpenAPI specs (openapi-core).

Every request the adapter sends to `/rest/api/3/...` or `/rest/servicedeskapi/...` and every answer the
sandbox gives is checked against the platform or service desk spec in `tests/fixtures/jira/openapi/`.
The specs' example server is replaced by a relative one so paths match on any host.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

SPECS = Path(__file__).parent.parent / "fixtures" / "jira" / "openapi"


@cache
def spec(name: str) -> OpenAPI:
    data = json.loads((SPECS / name).read_text())
    data["servers"] = [{"url": "/"}]
    # Atlassian's documents carry a few defaults outside their own enums: validate traffic, not the spec.
    return OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))


def spec_for(path: str) -> OpenAPI | None:
    if path.startswith("/rest/api/3/"):
        return spec("jira-platform-v3.json")
    if path.startswith("/rest/servicedeskapi/"):
        return spec("jsm-servicedesk.json")
    return None


class OpenApiRecorder:
    """Flask hook that validates each Jira exchange and keeps a readable list of violations."""

    def __init__(self, app: Flask) -> None:
        self.errors: list[str] = []
        self.checked = 0
        app.after_request(self._check)

    def _check(self, response: Response) -> Response:
        validator = spec_for(request.path)
        if validator is None:
            return response
        self.checked += 1
        what = f"{request.method} {request.path}"
        openapi_request = WerkzeugOpenAPIRequest(request)
        with warnings.catch_warnings():
            # The specs declare OAuth and Connect security schemes openapi-core cannot check: not our concern.
            warnings.simplefilter("ignore", UserWarning)
            try:
                validator.validate_request(openapi_request)
            except Exception as exc:
                self.errors.append(f"request {what}: {_reason(exc)}")
            # A 204 has no body by definition (RFC 9110); Atlassian's specs still attach an empty `{}` schema
            # to it, which openapi-core reads as "data required".
            if response.status_code != 204 and (response.status_code < 400 or response.status_code in (400, 404)):
                try:
                    validator.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))
                except Exception as exc:
                    self.errors.append(f"response {response.status_code} {what}: {_reason(exc)}")
        return response

    def take(self) -> list[str]:
        out, self.errors = self.errors, []
        return out


def _reason(exc: Exception) -> str:
    cause: Any = exc.__cause__
    details = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if details:
        return f"{exc}: " + "; ".join(str(getattr(e, "message", e))[:200] for e in list(details)[:3])
    return f"{type(exc).__name__}: {exc} {cause or ''}"[:400]
