"""Every REST answer a test gets over the TestClient is checked against /openapi.json.

schemathesis (tests/test_openapi.py) reaches few real objects; the other tests make paid orders,
customers' orders, kitchen work, ... so their answers are checked too: a status the operation does
not list, or a body that contradicts its schema, fails the test (tests/conftest.py hooks it in).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from describe.openapi import document

DOCUMENT_URI = "urn:cafe-rt:openapi"
Operations = list[tuple[re.Pattern[str], str]]


@dataclass
class ResponseChecker:
    operations: Operations
    mismatches: list[str] = field(default_factory=list)

    def mismatch(self, method: str, path: str, status: int, body: bytes) -> str | None:
        """None when the answer is one the document gives the operation (or the path is not an operation)."""
        template = next((template for pattern, template in self.operations if pattern.fullmatch(path)), None)
        if template is None or method.lower() not in document()["paths"][template]:
            return None  # not an operation of the API: the router's 404 or 405
        label = f"{method} {template}"
        validators = _validators(template, method.lower())
        if status not in validators:
            return f"{label} answered {status}, which the document does not list: {body[:300]!r}"
        validator = validators[status]
        if validator is None:
            return None if not body else f"{label} {status} has a body the document does not describe"
        try:
            data = json.loads(body)
        except ValueError:
            return f"{label} {status} answered a body that is not JSON: {body[:300]!r}"
        errors = [f"{error.message} at {list(error.absolute_path)}" for error in validator.iter_errors(data)]
        return f"{label} {status}: " + "; ".join(errors[:5]) if errors else None

    def check(self, method: str, path: str, status: int, body: bytes) -> None:
        problem = self.mismatch(method, path, status, body)
        if problem is not None:
            self.mismatches.append(problem)


@cache
def _registry() -> Registry:
    return Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document()))


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@cache
def _validators(template: str, method: str) -> dict[int, Draft202012Validator | None]:
    """By status: a validator of the JSON body the operation answers with, or None for no body."""
    validators: dict[int, Draft202012Validator | None] = {}
    for status, response in document()["paths"][template][method]["responses"].items():
        where: tuple[str, ...] = ("paths", template, method, "responses", status)
        if "$ref" in response:
            code = response["$ref"].rsplit("/", 1)[1]
            where, response = ("components", "responses", code), document()["components"]["responses"][code]
        if "application/json" not in response.get("content", {}):
            validators[int(status)] = None
            continue
        schema = {"$ref": DOCUMENT_URI + "#" + _pointer(*where, "content", "application/json", "schema")}
        validators[int(status)] = Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())
    return validators


@cache
def _operations() -> Operations:
    return [(re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path))), path) for path in document()["paths"]]


def response_checker() -> ResponseChecker:
    return ResponseChecker(_operations())
