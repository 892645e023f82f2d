"""Passwords, tokens and the acting user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from core.errors import NotAuthenticated

ROLES = ("owner", "admin", "manager", "waiter", "cook", "cashier", "client")
COMPANY_WIDE_ROLES = ("owner", "admin")
STAFF_ROLES = ("owner", "admin", "manager", "waiter", "cook", "cashier")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
JWT_ALGORITHM = "HS256"
# Browser sessions: the access token in an HttpOnly cookie (the rooms dialect's clients also name it by
# the kind of app), the refresh token likewise, and a readable CSRF token the page echoes in a header.
ACCESS_COOKIES = ("access_token", "access_token_client", "access_token_admin")
REFRESH_COOKIES = ("refresh_token", "refresh_token_client", "refresh_token_admin")
CSRF_COOKIE = "csrf_token"


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded_salt, encoded_digest = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded_salt}${encoded_digest}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Actor:
    """Who makes a request, as the access token says."""

    id: str
    role: str
    company_id: str | None
    branch_id: str | None
    city_ids: tuple[int, ...] = field(default=())
    expires_at: int = 0
    # The user's token_version when the token was issued; a revocation raises the stored one.
    token_version: int = 0

    @property
    def company_wide(self) -> bool:
        return self.role in COMPANY_WIDE_ROLES

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


@dataclass(frozen=True)
class CompanyActor(Actor):
    """An actor whose company is known: what every company-scoped action works with."""

    company_id: str


def company_bound(actor: Actor) -> CompanyActor | None:
    """The actor as a CompanyActor, or None for a user of no company."""
    if isinstance(actor, CompanyActor):
        return actor
    if actor.company_id is None:
        return None
    return CompanyActor(
        actor.id, actor.role, actor.company_id, actor.branch_id, actor.city_ids, actor.expires_at, actor.token_version
    )


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    access_ttl: int
    refresh_ttl: int


def issue_tokens(
    settings: TokenSettings,
    user: Mapping[str, Any],
    version: int = 0,
    jti: str | None = None,
    issued_at: int | None = None,
) -> dict[str, str]:
    """An access and a refresh token of the user's token `version`; `jti` names the refresh token.

    The same claims and `issued_at` give the same two tokens again (HS256 is deterministic): that is how a
    refresh token presented twice within the grace window gets the very pair its first use got."""
    now = int(time.time()) if issued_at is None else issued_at
    return {
        # The refresh token's jti in the access token too: each rotation's pair differs, even within a second.
        "access": _encode(settings, user, "access", settings.access_ttl, version, now, jti),
        "refresh": _encode(settings, user, "refresh", settings.refresh_ttl, version, now, jti),
    }


def _encode(
    settings: TokenSettings,
    user: Mapping[str, Any],
    kind: str,
    ttl: int,
    version: int,
    now: int,
    jti: str | None = None,
) -> str:
    claims: dict[str, object] = {
        "sub": user["id"],
        "type": kind,
        "role": user["role"],
        "company_id": user["company"],
        "branch_id": user["branch"],
        "city_ids": list(user.get("city_ids", ())),
        "ver": version,
        "iat": now,
        "exp": now + ttl,
    }
    if jti is not None:
        claims["jti"] = jti
    return jwt.encode(claims, settings.secret, algorithm=JWT_ALGORITHM)


# A verified token's claims as PyJWT decodes them (JSON values, typed Any there): the ones _encode wrote, as the
# signature proves; actor_from_claims is where they are read.
Claims = dict[str, Any]
# Verified tokens by (secret, token, kind): a device's token is checked on every request and socket
# connect, and its signature can only be verified the same way again. Expiry is still checked each time.
_verified: dict[tuple[str, str, str], Claims] = {}
VERIFIED_CACHE_SIZE = 10_000


def bearer_value(authorization: str, cookies: Mapping[str, str] | None = None) -> str | None:
    """The access token a request or handshake presents: `Authorization: Bearer <token>`, else an access
    cookie; None without either. The one reader of credentials: REST, sockets and event streams call it."""
    found = credential(authorization, cookies or {})
    return found.token if found else None


@dataclass(frozen=True)
class Credential:
    token: str
    # A cookie comes with every request the browser makes, whichever page asks: writes need CSRF checks.
    from_cookie: bool


def credential(authorization: str, cookies: Mapping[str, str]) -> Credential | None:
    """The Bearer token when the header has one (a header no other site's page can make the browser send),
    else the first access cookie."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return Credential(token.strip(), from_cookie=False)
    for name in ACCESS_COOKIES:
        if cookies.get(name):
            return Credential(cookies[name], from_cookie=True)
    return None


def refresh_cookie(cookies: Mapping[str, str]) -> str | None:
    return next((cookies[name] for name in REFRESH_COOKIES if cookies.get(name)), None)


def decode_token(settings: TokenSettings, token: str | None, kind: str = "access") -> Claims:
    if not token:
        raise NotAuthenticated("Authentication credentials were not provided.")
    key = (settings.secret, token, kind)
    known = _verified.get(key)
    if known is not None:
        if known["exp"] <= time.time():
            del _verified[key]
            raise NotAuthenticated("Token has expired.")
        return dict(known)
    claims = _verify(settings, token, kind)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[key] = claims
    return dict(claims)


def _verify(settings: TokenSettings, token: str, kind: str) -> Claims:
    try:
        claims = jwt.decode(
            token, settings.secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub", "type"]}
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("Token has expired.") from None
    except jwt.InvalidTokenError:
        raise NotAuthenticated("Token is invalid.") from None
    if claims.get("type") != kind:
        raise NotAuthenticated(f"An {kind} token is required.")
    # Tokens from before token versions count as version 0: valid until the user's first revocation.
    version = claims.setdefault("ver", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise NotAuthenticated("Token is invalid.")
    return claims


def actor_from_token(settings: TokenSettings, token: str | None) -> Actor:
    return actor_from_claims(decode_token(settings, token))


def actor_from_claims(claims: Mapping[str, Any]) -> Actor:
    user_id, role, branch_id = claims["sub"], claims.get("role", ""), claims.get("branch_id")
    city_ids, expires_at, version = tuple(claims.get("city_ids") or ()), int(claims["exp"]), claims.get("ver", 0)
    company_id: str | None = claims.get("company_id")
    if company_id:
        # A company's user is a CompanyActor from the start: company_bound() then has nothing to copy.
        return CompanyActor(user_id, role, company_id, branch_id, city_ids, expires_at, version)
    return Actor(user_id, role, company_id, branch_id, city_ids, expires_at, version)
