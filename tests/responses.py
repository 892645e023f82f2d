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

    def mismatch(self, method: str, path: str, status: int, body: bytes, content_type: str | None) -> str | None:
        """None when the answer is one the document gives the operation (or the path is not an operation)."""
        template = next((template for pattern, template in self.operations if pattern.fullmatch(path)), None)
        if template is None or method.lower() not in document()["paths"][template]:
            return None  # not an operation of the API: the router's 404 or 405
        label = f"{method} {template}"
        validators = _validators(template, method.lower())
        if status not in validators:
            return f"{label} answered {status}, which the document does not list: {body[:300]!r}"
        answer = validators[status]
        if answer is None:
            return None if not body else f"{label} {status} has a body the document does not describe"
        media_type, validator = answer
        received = (content_type or "").partition(";")[0].strip().lower()
        if received != media_type:
            return f"{label} {status} answered Content-Type {content_type!r}, the document gives {media_type}"
        try:
            # JSON is parsed; any other media type the document gives (text/plain) is text, checked as a string.
            data = json.loads(body) if media_type == "application/json" else body.decode()
        except ValueError:
            return f"{label} {status} answered a body that is not {media_type}: {body[:300]!r}"
        errors = [f"{error.message} at {list(error.absolute_path)}" for error in validator.iter_errors(data)]
        return f"{label} {status}: " + "; ".join(errors[:5]) if errors else None

    def check(self, method: str, path: str, status: int, body: bytes, content_type: str | None) -> None:
        problem = self.mismatch(method, path, status, body, content_type)
        if problem is not None:
            self.mismatches.append(problem)


@cache
def _registry() -> Registry:
    return Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document()))


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@cache
def _validators(template: str, method: str) -> dict[int, tuple[str, Draft202012Validator] | None]:
    """By status: the media type of the body the operation answers with and a validator of it, or None
    for no body."""
    validators: dict[int, tuple[str, Draft202012Validator] | None] = {}
    for status, response in document()["paths"][template][method]["responses"].items():
        where: tuple[str, ...] = ("paths", template, method, "responses", status)
        if "$ref" in response:
            code = response["$ref"].rsplit("/", 1)[1]
            where, response = ("components", "responses", code), document()["components"]["responses"][code]
        if not response.get("content"):
            validators[int(status)] = None
            continue
        (media_type,) = response["content"]  # one media type per answer
        schema = {"$ref": DOCUMENT_URI + "#" + _pointer(*where, "content", media_type, "schema")}
        validator = Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())
        validators[int(status)] = (media_type, validator)
    return validators


@cache
def _operations() -> Operations:
    return [(re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path))), path) for path in document()["paths"]]


def response_checker() -> ResponseChecker:
    return ResponseChecker(_operations())
