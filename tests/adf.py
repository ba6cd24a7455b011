"""Validation of Atlassian Document Format bodies against Atlassian's own JSON schema of ADF.

Jira Cloud answers 400 for a description or comment that is not ADF; the sandbox is more lenient, so
every ADF body the bot sends is checked here against the schema from `@atlaskit/adf-schema`
(`tests/fixtures/jira/adf/full.json`, draft-04).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft4Validator

from tests.conftest import FIXTURES


@lru_cache(maxsize=1)
def _validator() -> Draft4Validator:
    schema = json.loads((FIXTURES / "jira" / "adf" / "full.json").read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def adf_errors(document: Any) -> list[str]:
    """Every way `document` breaks the ADF schema (empty when it is valid), each with its JSON path."""
    return [
        f"{error.json_path}: {error.message[:200]}"
        for error in sorted(_validator().iter_errors(document), key=lambda e: e.json_path)
    ]


def assert_valid_adf(document: Any) -> None:
    errors = adf_errors(document)
    assert not errors, "not valid ADF:\n" + "\n".join(errors)
