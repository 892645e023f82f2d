"""Errors a domain function raises; REST renders them as {"detail": ...}, sockets as an error message."""

from __future__ import annotations

# A message, or a {field: [messages]} mapping (what a Body collects).
Detail = str | dict[str, list[str]]


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: Detail) -> None:
        super().__init__(detail)
        self.detail = detail


class Invalid(DomainError):
    """Bad input; detail is a message or a {field: [messages]} mapping."""

    status_code = 400


class NotAuthenticated(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class TooLarge(DomainError):
    status_code = 413


class Throttled(DomainError):
    """Too many attempts: answered with Retry-After."""

    status_code = 429

    def __init__(self, detail: Detail, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def error_message(detail: Detail) -> str:
    """One line of text for channels that carry a plain message (the socket dialects)."""
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in detail.items())
    return str(detail)
