"""Keep credentials out of the logs: uvicorn logs every request and WebSocket path with its query,
and a socket's `?token=` or `?ticket=` would be readable by anyone who reads the log."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"']+")
# The loggers uvicorn writes request lines to: access lines, and WebSocket handshakes ("uvicorn.error").
LOGGERS = ("uvicorn.access", "uvicorn.error")


def _secret_name(name: str) -> bool:
    name = unquote_plus(name).lower()
    return "token" in name or "ticket" in name


def redact(text: str) -> str:
    """`text` with the value of every query parameter named like a token or ticket, and Bearer values, hidden."""
    path, question, query = text.partition("?")
    if question and "=" in query:
        pairs = [pair.partition("=") for pair in query.split("&")]
        query = "&".join(
            f"{name}={REDACTED}" if eq and _secret_name(name) else name + eq + value for name, eq, value in pairs
        )
        text = path + question + query
    return BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments are rewritten in place, not merged into msg: uvicorn's formatters unpack them.
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_uvicorn_logs() -> None:
    """Add the filter to uvicorn's request loggers, once however often it is called."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactCredentials) for existing in logger.filters):
            logger.addFilter(RedactCredentials())
