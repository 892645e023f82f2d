"""Reading a JSON request body field by field, collecting every error before failing once."""

from __future__ import annotations

import json
import re
from email.errors import HeaderParseError, MessageDefect
from email.headerregistry import Address
from typing import Any, TypeGuard

from core.errors import Invalid
from core.values import parse_cents

MISSING = object()
MAX_TEXT = 200
MAX_INT = 1_000_000_000
# No body or message of this API nests more than a few levels; deeper is an attack on the parser.
MAX_DEPTH = 32
# What str.strip() takes off, spelled out: JSON Schema's (ECMA) `\s` and others' differ from Python's.
SPACE = "\\t\\n\\u000b\\u000c\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# Money as text: digits, at most two decimals, up to MAX_INT cents (10000000.00); surrounding spaces are let go.
MONEY_TEXT = rf"^[{SPACE}]*(?:[0-9]{{1,7}}(?:\.[0-9]{{1,2}})?|10000000(?:\.00?)?)[{SPACE}]*$"

UUID_FORM = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# A domain of DNS labels (letters, digits, inner hyphens), at least two of them: what mail can be sent to.
EMAIL_DOMAIN = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+")


def is_email(text: str) -> bool:
    """An addr-spec as RFC 5322 reads it (the standard library's parser), with a dot-atom local part (no quoted
    strings, so no `"`, `<` or space) and a host name for a domain: markup and address lists never pass."""
    if not text.isascii() or '"' in text or len(text) > 254:
        return False
    try:
        address = Address(addr_spec=text)
    except (HeaderParseError, MessageDefect, ValueError, IndexError):
        return False
    return address.addr_spec == text and bool(address.username) and EMAIL_DOMAIN.fullmatch(address.domain) is not None


def _refuse_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not valid JSON")


def parse_json(text: str | bytes) -> Any:
    """json.loads, refusing what Python's parser lets through but nothing after it can use: NaN and
    Infinity, nesting deeper than MAX_DEPTH, and lone surrogates ("\\ud800", text no UTF-8 encoder
    can write to a database or a socket). ValueError says why.

    Any, as json.loads answers: the caller checks the shape it needs (Body, or the socket's message check)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_tree(value)
    return value


def _check_tree(value: object) -> None:
    """Walk a parsed document without recursion, checking its depth and every string in it."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                for key in node:
                    _check_text(key)
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone surrogate (like \\ud800) is not text") from None


def whole(value: object) -> int | None:
    """An integer as JSON Schema counts one: 3 or 3.0 (a number with no fraction), never true or 3.5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def whole_numbers(values: list[object], low: int, high: int = MAX_INT) -> list[int] | None:
    """Every entry a whole number within [low, high], or None."""
    numbers = [whole(value) for value in values]
    if any(number is None or not low <= number <= high for number in numbers):
        return None
    return [number for number in numbers if number is not None]


FLAG_VALUES = ("1", "true", "0", "false")


def query_flag(query: dict[str, str], name: str) -> bool:
    """A yes/no query parameter (`?mine=1`): 1/true or 0/false, absent is no; anything else is 400."""
    value = query.get(name, "0")
    if value not in FLAG_VALUES:
        raise Invalid({name: [f"Must be one of: {', '.join(FLAG_VALUES)}."]})
    return value in ("1", "true")


def is_uuid(value: object) -> TypeGuard[str]:
    """A UUID in its 8-4-4-4-12 hex form (the only one cafe_rt hands out)."""
    return isinstance(value, str) and UUID_FORM.fullmatch(value) is not None


class Body:
    """A request body that may hold only the given fields."""

    def __init__(self, data: object, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise Invalid("The request body must be a JSON object.")
        self._data: dict[str, object] = data
        self.errors: dict[str, list[str]] = {}
        for field in data:
            if field not in allowed:
                self.fail(str(field)[:50], "Unknown field.")

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self._data

    def _get(self, field: str, required: bool) -> object:
        value = self._data.get(field, MISSING)
        if value is MISSING and required:
            self.fail(field, "This field is required.")
        return value

    def text(self, field: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str | None:
        value = self._get(field, required)
        if value is MISSING or (value is None and not required):
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "Must be a non-empty string.")
        elif len(value) > max_length:
            self.fail(field, f"At most {max_length} characters.")
        elif "\x00" in value:
            self.fail(field, "Must not contain NUL characters.")
        else:
            return value.strip()
        return None

    def integer(self, field: str, *, low: int, high: int = MAX_INT, required: bool = True) -> int | None:
        value = self._get(field, required)
        if value is MISSING or (value is None and not required):
            return None
        number = whole(value)
        if number is None:
            self.fail(field, "Must be an integer.")
        elif not low <= number <= high:
            self.fail(field, f"Must be between {low} and {high}.")
        else:
            return number
        return None

    def ident(self, field: str, *, required: bool = True) -> str | None:
        value = self._get(field, required)
        if value is MISSING or (value is None and not required):
            return None
        if not is_uuid(value):
            self.fail(field, "Must be a UUID.")
            return None
        return value

    def money(self, field: str, *, required: bool = True, low: int = 0) -> int | None:
        value = self._get(field, required)
        if value is MISSING or (value is None and not required):
            return None
        if isinstance(value, str) and not re.fullmatch(MONEY_TEXT, value):
            value = None  # "1e3", "+5", "٣": Decimal reads them, the document does not allow them
        try:
            cents = parse_cents(value)
        except ArithmeticError:  # decimal.InvalidOperation: more digits than Decimal's precision (1e300)
            cents = None
        if cents is None or not low <= cents <= MAX_INT:
            self.fail(field, 'Must be an amount with at most two decimals, like "12.50".')
            return None
        return cents

    def choice(self, field: str, choices: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self._get(field, required)
        if value is MISSING:
            return None
        if not isinstance(value, str) or value not in choices:
            self.fail(field, f"Must be one of: {', '.join(choices)}.")
            return None
        return value

    def boolean(self, field: str, *, default: bool) -> bool:
        value = self._data.get(field, default)
        if not isinstance(value, bool):
            self.fail(field, "Must be true or false.")
            return default
        return value

    def items(self, field: str, *, required: bool = True, max_items: int = 100) -> list[object]:
        value = self._get(field, required)
        if value is MISSING:
            return []
        if not isinstance(value, list) or len(value) > max_items:
            self.fail(field, f"Must be a list of at most {max_items} entries.")
            return []
        return value

    def check(self) -> None:
        if self.errors:
            raise Invalid(self.errors)
