"""Browser sessions: the cookies login sets, CSRF on cookie-authenticated writes, refresh with a grace window,
logout; and the front door around them (ALLOWED_HOSTS, security headers, METRICS_TOKEN, email syntax)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from http.cookies import SimpleCookie

from starlette.testclient import TestClient

from cafe_rt import create_app
from core.auth import Credential, bearer_value, credential
from domain import accounts
from tests.factory import PASSWORD, make_company, ok, portal

OWN = "http://testserver"
ELSEWHERE = "https://evil.example"


def cookies_set(response) -> dict[str, SimpleCookie]:
    """Each Set-Cookie of the response, by cookie name."""
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def browser_login(client: TestClient, email: str) -> dict:
    """As a page does: its Origin, and the cookies kept in the client's jar."""
    return ok(client.post("/api/auth/login/", json={"email": email, "password": PASSWORD}, headers={"Origin": OWN}))


def test_login_sets_httponly_lax_cookies_and_a_readable_csrf_token(client):
    cafe = make_company(client)
    response = client.post("/api/users/login/", json={"email": cafe.waiter.email, "password": PASSWORD})
    body = ok(response)
    assert set(body) == {"access", "refresh", "csrfToken"}
    cookies = cookies_set(response)
    access, refresh, csrf = cookies["access_token"], cookies["refresh_token"], cookies["csrf_token"]
    assert access["access_token"].value == body["access"] and refresh["refresh_token"].value == body["refresh"]
    assert csrf["csrf_token"].value == body["csrfToken"]
    for name, cookie in (("access_token", access), ("refresh_token", refresh)):
        assert cookie[name]["httponly"] and cookie[name]["samesite"].lower() == "lax", name
        assert not cookie[name]["secure"], "plain HTTP: a browser would drop a Secure cookie"
    assert not csrf["csrf_token"]["httponly"], "the page must read it to echo it"
    assert refresh["refresh_token"]["path"] == "/api/auth"
    # The cookie alone authenticates a read; /api/auth/session says who.
    assert ok(client.get("/api/users/me/"))["id"] == cafe.waiter.id
    assert ok(client.get("/api/auth/session"))["user"]["id"] == cafe.waiter.id
    assert ok(client.get("/api/auth/csrf")) == {"csrfToken": body["csrfToken"]}


def test_cookies_are_secure_over_https_directly_or_behind_a_trusted_proxy(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        cafe = make_company(client)
        response = client.post("/api/auth/login/", json={"email": cafe.cook.email, "password": PASSWORD})
        assert set(cookies_set(response)) == {"access_token", "refresh_token", "csrf_token"}
        for name, cookie in cookies_set(response).items():
            assert cookie[name]["secure"], name


def test_a_cookie_write_needs_the_csrf_token_and_its_own_origin(client):
    cafe = make_company(client)
    token = browser_login(client, cafe.waiter.email)["csrfToken"]
    refusals = [
        ({"Origin": OWN}, "X-CSRF-Token"),  # no token
        ({"Origin": OWN, "X-CSRF-Token": "guessed"}, "X-CSRF-Token"),
        ({"X-CSRF-Token": token}, "Origin"),  # a write must show where it comes from
        ({"Origin": ELSEWHERE, "X-CSRF-Token": token}, "origin"),
        ({"Referer": f"{ELSEWHERE}/page", "X-CSRF-Token": token}, "origin"),
        ({"Origin": "null", "X-CSRF-Token": token}, "origin"),
    ]
    for headers, word in refusals:
        refused = client.post("/api/auth/ws-ticket", headers=headers)
        assert refused.status_code == 403 and word in refused.json()["detail"], headers
    # The positive controls: the token and the service's own Origin (or Referer); a Bearer request needs neither.
    assert "ticket" in ok(client.post("/api/auth/ws-ticket", headers={"Origin": OWN, "X-CSRF-Token": token}))
    referer = {"Referer": f"{OWN}/board/", "X-CSRF-Token": token}
    assert "ticket" in ok(client.post("/api/auth/ws-ticket", headers=referer))
    # A foreign page may not even read with the cookie.
    assert client.get("/api/users/me/", headers={"Origin": ELSEWHERE}).status_code == 403
    assert client.get("/api/users/me/", headers={"Origin": OWN}).status_code == 200
    client.cookies.clear()
    assert "ticket" in ok(client.post("/api/auth/ws-ticket", headers={**cafe.waiter.auth, "Origin": ELSEWHERE}))


def test_login_refresh_and_logout_need_no_csrf_token_but_a_foreign_origin_is_refused(client):
    cafe = make_company(client)
    login = {"email": cafe.cook.email, "password": PASSWORD}
    assert client.post("/api/auth/login/", json=login, headers={"Origin": ELSEWHERE}).status_code == 403
    browser_login(client, cafe.cook.email)
    assert client.post("/api/auth/refresh", headers={"Origin": ELSEWHERE}).status_code == 403
    assert client.post("/api/auth/logout", headers={"Origin": ELSEWHERE}).status_code == 403
    refreshed = ok(client.post("/api/auth/refresh", headers={"Origin": OWN}))
    assert refreshed == {"ok": True, "csrfToken": client.cookies["csrf_token"]}
    assert ok(client.post("/api/auth/logout", headers={"Origin": OWN})) == {"ok": True}


def test_refresh_by_cookie_rotates_both_cookies(client):
    cafe = make_company(client)
    first = browser_login(client, cafe.manager.email)
    response = client.post("/api/auth/refresh", headers={"Origin": OWN})
    assert ok(response) == {"ok": True, "csrfToken": first["csrfToken"]}, "the page's cached CSRF token stays good"
    cookies = cookies_set(response)
    access, refresh = cookies["access_token"]["access_token"].value, cookies["refresh_token"]["refresh_token"].value
    assert access != first["access"] and refresh != first["refresh"]
    assert client.cookies.get("refresh_token", path="/api/auth") == refresh
    assert ok(client.get("/api/auth/session"))["user"]["id"] == cafe.manager.id
    # A {refresh} body works too (a client that keeps its tokens); the cookie jar is not needed for it.
    client.cookies.clear()
    body = ok(client.post("/api/auth/refresh", json={"refresh": refresh}))
    assert body["ok"] is True
    client.cookies.clear()
    assert client.post("/api/auth/refresh").status_code == 400, "neither a cookie nor a body"


def test_two_concurrent_refreshes_of_one_token_both_get_the_same_pair(client):
    cafe = make_company(client)
    services = client.app_state["services"]
    refresh = browser_login(client, cafe.waiter.email)["refresh"]

    async def both() -> list[dict[str, str]]:
        return list(await asyncio.gather(accounts.refresh(services, refresh), accounts.refresh(services, refresh)))

    first, second = portal(client).call(both)
    assert first == second and first["refresh"] != refresh
    # Over REST too, a retried request within the window: the same pair again, and nobody is signed out.
    again = ok(client.post("/api/users/token/refresh/", json={"refresh": refresh}))
    assert again == first
    assert client.get("/api/users/me/", headers={"Authorization": f"Bearer {first['access']}"}).status_code == 200
    onward = ok(client.post("/api/users/token/refresh/", json={"refresh": first["refresh"]}))
    assert onward["refresh"] != first["refresh"]


def test_a_replay_after_the_grace_window_revokes_every_token(settings):
    with TestClient(create_app(replace(settings, refresh_reuse_grace=1.0))) as client:
        cafe = make_company(client)
        tokens = ok(client.post("/api/users/login/", json={"email": cafe.cook.email, "password": PASSWORD}))
        client.cookies.clear()
        rotated = ok(client.post("/api/users/token/refresh/", json={"refresh": tokens["refresh"]}))
        time.sleep(1.1)
        replayed = client.post("/api/users/token/refresh/", json={"refresh": tokens["refresh"]})
        assert replayed.status_code == 401 and "already used" in replayed.json()["detail"]
        for access in (tokens["access"], rotated["access"]):
            assert client.get("/api/users/me/", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_logout_refuses_a_rotated_token_and_clears_the_cookies(client):
    cafe = make_company(client)
    first = browser_login(client, cafe.cashier.email)
    client.post("/api/auth/refresh", headers={"Origin": OWN}).raise_for_status()
    stale = client.post("/api/auth/logout", json={"refresh": first["refresh"]}, headers={"Origin": OWN})
    assert stale.status_code == 401 and "rotated" in stale.json()["detail"]
    assert client.post("/api/users/logout/", json={"refresh": first["refresh"]}).status_code == 401
    assert ok(client.get("/api/auth/session"))["user"]["id"] == cafe.cashier.id, "the refused logouts ended nothing"
    response = client.post("/api/auth/logout", headers={"Origin": OWN})
    assert ok(response) == {"ok": True}
    for name, cookie in cookies_set(response).items():
        assert cookie[name]["max-age"] == "0", name
    assert "access_token" not in client.cookies
    assert client.get("/api/auth/session").status_code == 401
    assert client.get("/api/users/me/", headers={"Authorization": f"Bearer {first['access']}"}).status_code == 401


def test_the_trailing_slash_redirect_is_relative(client):
    """Starlette builds it from the Host header; relative, it can name no other host (tests/test_browser_front_door.py
    shows a foreign Host refused over a real server)."""
    cafe = make_company(client)
    redirect = client.get("/api/users/me", headers=cafe.owner.auth, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/api/users/me/"
    assert ok(client.get("/api/users/me/", headers={**cafe.owner.auth, "Host": "testserver:8000"}))


def test_every_answer_has_the_browser_headers_and_the_board_runs_no_inline_script(client):
    for path in ("/board/", "/board/board.js", "/board/board.css", "/healthz", "/api/users/me/"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
    page = client.get("/board/").text
    assert re.search(r"<script\b[^>]*\bsrc=", page), "the board's script"
    assert not re.search(r"<script\b(?![^>]*\bsrc=)", page), "an inline script"
    assert not re.search(r"\son[a-z]+\s*=", page), "an inline event handler"


def test_metrics_token_when_set(settings):
    with TestClient(create_app(replace(settings, metrics_token="scrape-me-0123456789"))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert answer.status_code == 200 and "cafe_rt" in answer.text


def test_an_email_must_be_an_address(client):
    cafe = make_company(client)
    for email in ('"><img src=x onerror=alert(1)>@x.example', "a b@x.example", "x@localhost", "a@b.c,d@e.example"):
        body = {"email": email, "password": PASSWORD, "role": "cook", "branch": cafe.branch_a}
        refused = client.post("/api/users/", json=body, headers=cafe.owner.auth)
        assert refused.status_code == 400 and set(refused.json()["detail"]) == {"email"}, email
    body = {"email": "Ana.Cook+late@Sub.Example.com", "password": PASSWORD, "role": "cook", "branch": cafe.branch_a}
    assert ok(client.post("/api/users/", json=body, headers=cafe.owner.auth), 201)["email"] == (
        "ana.cook+late@sub.example.com"
    )


def test_a_cookie_sessions_page_refreshes_its_socket_with_a_fresh_ticket(settings):
    """The page holds no token: with SOCKET_TOKEN_EXPIRY=close it extends a socket by a ticket of the new cookie."""
    with TestClient(create_app(replace(settings, socket_token_expiry="close"))) as client:
        cafe = make_company(client)
        csrf = {"Origin": OWN, "X-CSRF-Token": browser_login(client, cafe.waiter.email)["csrfToken"]}
        ticket = ok(client.post("/api/auth/ws-ticket", headers=csrf))["ticket"]
        with client.websocket_connect(f"/ws/cafe/orders/?ticket={ticket}", headers={"Origin": OWN}) as ws:
            assert ws.receive_json()["type"] == "connection_established"
            client.post("/api/auth/refresh", headers={"Origin": OWN}).raise_for_status()
            fresh = ok(client.post("/api/auth/ws-ticket", headers=csrf))["ticket"]
            ws.send_json({"action": "refresh_token", "ticket": fresh})
            assert ws.receive_json()["type"] == "token_refreshed"
            ws.send_json({"action": "refresh_token", "ticket": fresh})  # single use
            assert "error" in ws.receive_json()


def test_a_password_change_in_a_browser_session_keeps_it_signed_in(client):
    cafe = make_company(client)
    csrf = browser_login(client, cafe.waiter.email)["csrfToken"]
    change = {"old_password": PASSWORD, "new_password": "another-pass-9"}
    response = client.post("/api/users/me/password/", json=change, headers={"Origin": OWN, "X-CSRF-Token": csrf})
    fresh = ok(response)
    assert cookies_set(response)["access_token"]["access_token"].value == fresh["access"]
    assert ok(client.get("/api/auth/session"))["user"]["id"] == cafe.waiter.id


def test_the_one_credential_reader_takes_bearer_first_then_each_access_cookie():
    assert credential("Bearer abc", {"access_token": "cookie"}) == Credential("abc", from_cookie=False)
    for name in ("access_token", "access_token_client", "access_token_admin"):
        assert credential("", {name: "t"}) == Credential("t", from_cookie=True), name
        assert bearer_value("", {name: "t"}) == "t"
    assert credential("Basic abc", {"csrf_token": "x"}) is None
    assert bearer_value("Bearer  ") is None
