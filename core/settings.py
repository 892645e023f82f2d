"""Every setting of the service, in one place: a field here is read from the environment variable of the same
name in capitals (`Settings.from_environ()`), and reaches the code through `Services.settings`.

Tests build `Settings(...)` with what they need; a field's default is what the service runs with when the
environment says nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# HS256 with a key shorter than its 32-byte output can be brute-forced offline from any one token.
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./cafe_rt.db"
    # Defaults to REDIS_URL when that is set (Heroku's Redis add-on), else one process's memory.
    broadcast_url: str = "memory://"
    jwt_secret: str | None = None
    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 7 * 24 * 3600
    # Seconds in which a just-rotated refresh token, presented again, gets the same new pair.
    refresh_reuse_grace: float = 10.0
    ws_ticket_ttl: int = 45
    # "keep": an open socket outlives its access token; "close": closed with 4003 at expiry unless refreshed.
    socket_token_expiry: str = "keep"
    send_queue_size: int = 1000
    socket_rate: float = 10.0
    socket_burst: int = 30
    max_sockets_per_user: int = 50
    # Seconds between the `: ping` comments of an idle event stream.
    sse_ping_interval: float = 15.0
    relay_interval: float = 5.0
    sweep_interval: float = 2.0
    broker_check_interval: float = 2.0
    outbox_retention: float = 7 * 24 * 3600
    # Seconds the publish after a commit may hold a response; the relay publishes what it leaves.
    publish_timeout: float = 1.0
    # Seconds an Idempotency-Key's answer is kept.
    idempotency_ttl: int = 86400
    bonus_percent: int = 5
    # POS sync jobs are written only when a webhook is configured.
    sync_webhook_url: str | None = None
    sync_max_attempts: int = 5
    sync_retry_base: float = 2.0
    sync_timeout: float = 5.0
    cors_origins: tuple[str, ...] = ()
    # The host names the service answers to (a foreign Host: 400); its own browser origins are judged by them.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    # When set, GET /metrics needs it as a Bearer token.
    metrics_token: str | None = None
    # Kitchen portions (the sum of quantities) one order may hold: one request must not flood the kitchen.
    max_portions_per_order: int = 200
    # Failures of one (account, address) pair before that pair is locked for `login_lockout` seconds.
    login_max_failures: int = 10
    login_lockout: float = 900.0
    # Staff of a whole cafe log in from one address: high enough for their typos, low enough to stop a spray.
    login_max_failures_per_address: int = 100
    # From `login_max_failures` failures of an account on, each attempt waits 1, 2, 4 ... s, at most this.
    login_max_delay: float = 60.0
    # Kitchen screens: how long a station may have no screen before kitchen_screen_offline, and how often each
    # process shares its socket counts; how often portions past their due time are looked for.
    screen_grace: float = 30.0
    screen_interval: float = 5.0
    late_check_interval: float = 1.0
    # Read by `serve` only: uvicorn's WebSocket options, how long a peer may take no data at all, how long a
    # connection may take to deliver its request, and how long in-flight requests get after SIGTERM.
    ws_ping_interval: float = 30.0
    ws_ping_timeout: float = 30.0
    ws_max_size: int = 64 * 1024
    stalled_timeout: float = 60.0
    request_timeout: float = 10.0
    shutdown_timeout: int = 10
    # Heroku's convention for how many processes a dyno runs (`serve --workers` overrides it).
    web_concurrency: int = 1

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings the environment gives (each field's name in capitals); a value that does not parse as
        its field's type stops the service with the variable's name."""
        # A value of each field's own type (_parse's), passed by name: no one type fits them all.
        given: dict[str, Any] = {}
        for setting in fields(cls):
            text = environ.get(setting.name.upper())
            if text is not None:
                given[setting.name] = _parse(setting.name.upper(), str(setting.type), text)
        if "broadcast_url" not in given and environ.get("REDIS_URL"):
            given["broadcast_url"] = environ["REDIS_URL"]
        return cls(**given)

    def check(self) -> None:
        """Refuse settings the service cannot run with, naming the variable (WeakSecret, ValueError)."""
        if self.jwt_secret and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise WeakSecret(
                f"JWT_SECRET is {len(self.jwt_secret.encode())} bytes; it must have at least {MIN_SECRET_BYTES} "
                "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.socket_token_expiry not in ("keep", "close"):
            raise ValueError(f"SOCKET_TOKEN_EXPIRY must be keep or close, not {self.socket_token_expiry!r}")


class WeakSecret(ValueError):
    """JWT_SECRET is too short to sign tokens with."""


KINDS = {"int": "a whole number", "float": "a number", "tuple[str, ...]": "a comma-separated list"}


def _parse(name: str, kind: str, text: str) -> object:
    try:
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return float(text)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} is not {KINDS[kind.split(' ')[0]]}") from None
    return text
