"""The live board (/board/) in a real headless Chromium against a real `cafe_rt.py serve`.

Debian's chromium at /usr/bin/chromium, driven by Playwright (never a browser Playwright downloads):
missing, the tests skip, or fail when CI=true. BOARD_SCREENSHOT=<path> keeps a picture of the board.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.conftest import SERVICES_REQUIRED
from tests.factory import PASSWORD
from tests.servers import create_company_in, free_port, furnish, server_env, token_for, uvicorn_server

if TYPE_CHECKING:  # imported where used: without playwright the tests skip, or fail under CI=true
    from playwright.sync_api import Browser, Page, Request, Route, WebSocket

CHROMIUM = Path("/usr/bin/chromium")
FEEDS = ("tables", "orders", "kitchen")
# Long enough for a reconnect's backoff on a loaded 2-core machine.
LIVE_TIMEOUT = 30_000


def require_chromium() -> None:
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed (requirements-dev.txt)"
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem:
        if SERVICES_REQUIRED:
            pytest.fail(f"{problem}, and CI=true requires it")
        pytest.skip(problem)


@dataclass
class Traffic:
    """Every URL the page asked for (documents, scripts, fetches, sockets), in order."""

    urls: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def mark(self) -> tuple[int, int]:
        return len(self.requests), len(self.sockets)

    def rest_since(self, mark: tuple[int, int]) -> list[tuple[str, str]]:
        return [(method, url) for method, url in self.requests[mark[0] :] if "/api/" in url]

    def sockets_since(self, mark: tuple[int, int]) -> list[str]:
        return self.sockets[mark[1] :]


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(
    browser: Browser, base: str, traffic: Traffic, path: str = "/board/", init_script: str | None = None
) -> tuple[Page, list[str]]:
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    if init_script is not None:
        page.add_init_script(init_script)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_request(request: Request) -> None:
        traffic.urls.append(request.url)
        traffic.requests.append((request.method, request.url))

    def on_websocket(socket: WebSocket) -> None:
        traffic.urls.append(socket.url)
        traffic.sockets.append(socket.url)

    page.on("request", on_request)
    page.on("websocket", on_websocket)
    page.goto(base + path)
    return page, errors


def sign_in(page: Page, email: str) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")


def feeds_live(page: Page) -> None:
    from playwright.sync_api import expect

    for feed in FEEDS:
        expect(page.locator(f'.feed[data-feed="{feed}"]')).to_have_attribute("data-state", "live", timeout=LIVE_TIMEOUT)


def stored_tokens(page: Page) -> set[str]:
    """The session's tokens, which live in the browser's HttpOnly cookies and nowhere the page can reach."""
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    tokens = {cookies[name]["value"] for name in ("access_token", "refresh_token") if name in cookies}
    for name in ("access_token", "refresh_token"):
        if name in cookies:
            assert cookies[name]["httpOnly"] and cookies[name]["sameSite"] == "Lax", name
    readable = page.evaluate(
        "JSON.stringify([document.cookie, {...sessionStorage}, {...localStorage}, "
        "Object.keys(window).filter((key) => /token|session/i.test(key))])"
    )
    assert not any(token in readable for token in tokens), "a token within the page's reach"
    return tokens


def assert_no_token_in_urls(traffic: Traffic, tokens: set[str]) -> None:
    assert tokens, "the browser holds no session cookie"
    for url in traffic.urls:
        where = url.partition("?")[0]
        assert "token" not in parse_qs(urlsplit(url).query), f"a token parameter in a request to {where}"
        assert not any(token in url for token in tokens), f"a token in a request to {where}"


def test_board_follows_the_floor_and_the_kitchen_live(browser: Browser, tmp_path: Path) -> None:
    """Sign in as a waiter; orders, portions and tables change on the wall with no reload and no polling,
    and after the server restarts the board resumes with last_event_id instead of refetching."""
    from playwright.sync_api import expect

    database_url = f"sqlite:///{tmp_path}/board.db"
    env = server_env(database_url)
    owner_email = create_company_in(database_url)
    port = free_port()
    traffic = Traffic()
    tokens: set[str] = set()

    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        cook_email = f"cook-{uuid.uuid4().hex[:8]}@test.cafe"
        cook_body = {"email": cook_email, "password": PASSWORD, "role": "cook", "branch": cafe["branch"]}
        http.post("/api/users/", json=cook_body, headers=owner).raise_for_status()
        cook = {"Authorization": f"Bearer {token_for(http, cook_email)}"}
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}

        # Portions turn red after 3 s here instead of the default 10 minutes.
        page, errors = open_page(browser, f"http://{host}", traffic, "/board/?late=0.05")
        sign_in(page, cafe["waiter_email"])
        table = page.locator(f'[data-table-id="{cafe["table"]}"]')
        expect(table).to_have_class(re.compile(r"\bfree\b"))
        feeds_live(page)
        page.evaluate("window.sameDocument = true")
        live = traffic.mark()

        body = {"table": cafe["table"], "guests": 2, "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
        order = http.post("/api/cafe/orders/", json=body, headers=waiter)
        order.raise_for_status()
        order_id = order.json()["id"]
        expect(table).to_have_class(re.compile(r"\bbusy\b"))
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_be_visible()

        (task,) = http.get("/api/cafe/kitchen/tasks/", headers=cook).json()
        portion = page.locator(f'[data-task-id="{task["id"]}"]')
        expect(portion).to_have_attribute("data-status", "pending")
        expect(portion).to_have_class(re.compile(r"\blate\b"))
        assert re.fullmatch(r"\d+:\d\d", portion.locator(".waited").inner_text())

        http.post(f"/api/cafe/kitchen/tasks/{task['id']}/claim/", headers=cook).raise_for_status()
        expect(portion).to_have_attribute("data-status", "in_progress")
        http.post(f"/api/cafe/kitchen/tasks/{task['id']}/ready/", headers=cook).raise_for_status()
        expect(portion).to_have_attribute("data-status", "ready")
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_have_attribute("data-status", "ready")
        assert traffic.rest_since(live) == [], "the board asked the REST API again instead of following the feeds"
        tokens |= stored_tokens(page)
        if os.environ.get("BOARD_SCREENSHOT"):
            page.screenshot(path=os.environ["BOARD_SCREENSHOT"])

    # The server is gone: the board's sockets dropped. Hold its tickets back until the order has closed
    # on the restarted server, so the close can only reach it as a replay, and answer the first ticket
    # request with 401, as for an expired access token.
    held = {"tickets": True, "unauthorized": 1}

    def tickets(route: Route) -> None:
        if held["tickets"]:
            route.abort()
        elif held["unauthorized"]:
            held["unauthorized"] -= 1
            route.fulfill(status=401, json={"detail": "Given token not valid for any token type"})
        else:
            route.continue_()

    page.route("**/api/auth/ws-ticket", tickets)
    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        expect(page.locator('.feed[data-state="live"]')).to_have_count(0)
        expect(page.locator("#banner")).to_be_visible()
        paid = {"amount": order.json()["total_amount"]}
        http.post(f"/api/cafe/orders/{order_id}/pay/", json=paid, headers=waiter).raise_for_status()
        resumed = traffic.mark()
        held["tickets"] = False

        expect(table).to_have_class(re.compile(r"\bfree\b"), timeout=LIVE_TIMEOUT)
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_have_count(0)
        expect(portion).to_have_count(0)
        feeds_live(page)
        expect(page.locator("#banner")).to_be_hidden()

    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    reconnects = traffic.sockets_since(resumed)
    for feed in FEEDS:
        urls = [url for url in reconnects if f"/ws/cafe/{feed}/" in url]
        assert urls and all("last_event_id" in parse_qs(urlsplit(url).query) for url in urls), (feed, reconnects)
    after = traffic.rest_since(resumed)
    assert ("POST", f"http://{host}/api/auth/refresh") in after, "the 401 did not make it refresh"
    assert {url for method, url in after if method == "GET"} == set(), "it refetched instead of resuming"
    tickets_per_socket = [parse_qs(urlsplit(url).query)["ticket"][0] for url in traffic.sockets]
    assert len(set(tickets_per_socket)) == len(traffic.sockets), "a ticket was used twice"
    tokens |= stored_tokens(page)
    assert len(tokens) == 4, "the refresh did not rotate the tokens"
    assert_no_token_in_urls(traffic, tokens)
    assert errors == []


def test_owner_picks_a_branch(browser: Browser, tmp_path: Path) -> None:
    """An owner sees every branch of the company: the board asks which one and follows that one. CORS_ORIGINS
    lists other sites only: the board's own sockets are same-origin and pass."""
    from playwright.sync_api import expect

    database_url = f"sqlite:///{tmp_path}/board.db"
    owner_email = create_company_in(database_url)
    traffic = Traffic()
    env = server_env(database_url, CORS_ORIGINS="https://app.example")
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        http.post("/api/branches/", json={"name": "Riverside", "city_id": 2}, headers=owner).raise_for_status()

        page, errors = open_page(browser, f"http://{host}", traffic)
        sign_in(page, owner_email)
        expect(page.locator("#branch-list button")).to_have_count(2)
        page.click(f'#branch-list button[data-branch-id="{cafe["branch"]}"]')
        table = page.locator(f'[data-table-id="{cafe["table"]}"]')
        expect(table).to_have_class(re.compile(r"\bfree\b"))
        feeds_live(page)

        body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 2}]}
        http.post("/api/cafe/orders/", json=body, headers=owner).raise_for_status()
        expect(table).to_have_class(re.compile(r"\bbusy\b"))
        expect(page.locator("#tasks [data-task-id]")).to_have_count(2)

    for url in traffic.sockets:
        assert parse_qs(urlsplit(url).query)["branch_id"] == [cafe["branch"]], url
    assert_no_token_in_urls(traffic, stored_tokens(page))
    assert errors == []


def test_board_refetches_when_its_position_is_pruned(browser: Browser, tmp_path: Path) -> None:
    """Away longer than the outbox keeps events, the board is told resync_required and reads the floor again."""
    from playwright.sync_api import expect

    database_url = f"sqlite:///{tmp_path}/board.db"
    env = server_env(database_url)
    owner_email = create_company_in(database_url)
    port = free_port()
    traffic = Traffic()
    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}
        page, errors = open_page(browser, f"http://{host}", traffic)
        sign_in(page, cafe["waiter_email"])
        feeds_live(page)
        body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
        order = http.post("/api/cafe/orders/", json=body, headers=waiter)
        order.raise_for_status()
        table = page.locator(f'[data-table-id="{cafe["table"]}"]')
        expect(table).to_have_class(re.compile(r"\bbusy\b"))
        expect(page.locator("#tasks [data-task-id]")).to_have_count(1)

    held = {"tickets": True}
    page.route("**/api/auth/ws-ticket", lambda route: route.abort() if held["tickets"] else route.continue_())
    forgetful = {**env, "OUTBOX_RETENTION": "0.5", "RELAY_INTERVAL": "0.2"}
    with uvicorn_server(forgetful, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        order_id = order.json()["id"]
        paid = {"amount": order.json()["total_amount"]}
        http.post(f"/api/cafe/orders/{order_id}/pay/", json=paid, headers=waiter).raise_for_status()
        with sqlite3.connect(f"{tmp_path}/board.db") as db:
            for _ in range(100):
                last, pruned = db.execute("SELECT last_position, pruned_through FROM event_counters").fetchone()
                if pruned == last:
                    break
                time.sleep(0.1)
        assert pruned == last, "the relay did not prune the outbox"
        refetch = traffic.mark()
        held["tickets"] = False

        expect(table).to_have_class(re.compile(r"\bfree\b"), timeout=LIVE_TIMEOUT)
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_have_count(0)
        expect(page.locator("[data-task-id]")).to_have_count(0)
        feeds_live(page)

    fetched = {urlsplit(url).path for method, url in traffic.rest_since(refetch) if method == "GET"}
    assert {"/api/cafe/tables/", "/api/cafe/orders/", "/api/cafe/kitchen/tasks/"} <= fetched
    for url in traffic.sockets_since(refetch):
        assert "last_event_id" in parse_qs(urlsplit(url).query), url
    assert errors == []


# A network that breaks WebSocket upgrades, as the page sees it: every socket closes (1006) before it opens.
NO_WEBSOCKETS = """
window.WebSocket = class extends EventTarget {
  static OPEN = 1;
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 3;
      this.dispatchEvent(new CloseEvent("close", { code: 1006 }));
    }, 20);
  }
  send() {}
  close() {}
};
"""


def test_board_follows_the_feeds_as_event_streams_when_websockets_cannot_open(browser: Browser, tmp_path: Path) -> None:
    """Each feed falls back to EventSource on its own URL, with a fresh single-use ticket per connect, and after
    a restart resumes with last_event_id instead of refetching."""
    from playwright.sync_api import expect

    database_url = f"sqlite:///{tmp_path}/board.db"
    env = server_env(database_url)
    owner_email = create_company_in(database_url)
    port = free_port()
    traffic = Traffic()

    def streams_since(mark: tuple[int, int]) -> list[str]:
        return [url for _, url in traffic.requests[mark[0] :] if "/ws/cafe/" in url]

    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}
        page, errors = open_page(browser, f"http://{host}", traffic, init_script=NO_WEBSOCKETS)
        sign_in(page, cafe["waiter_email"])
        feeds_live(page)
        body = {"table": cafe["table"], "items": [{"menu_item": cafe["menu_item"], "quantity": 1}]}
        order = http.post("/api/cafe/orders/", json=body, headers=waiter)
        order.raise_for_status()
        order_id = order.json()["id"]
        table = page.locator(f'[data-table-id="{cafe["table"]}"]')
        expect(table).to_have_class(re.compile(r"\bbusy\b"))
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_be_visible()
        expect(page.locator("#tasks [data-task-id]")).to_have_count(1)

    held = {"tickets": True}
    page.route("**/api/auth/ws-ticket", lambda route: route.abort() if held["tickets"] else route.continue_())
    with uvicorn_server(env, port=port) as host, httpx2.Client(base_url=f"http://{host}") as http:
        expect(page.locator('.feed[data-state="live"]')).to_have_count(0)
        paid = {"amount": order.json()["total_amount"]}  # paying closes it (a waiter may not comp)
        http.post(f"/api/cafe/orders/{order_id}/pay/", json=paid, headers=waiter).raise_for_status()
        resumed = traffic.mark()
        held["tickets"] = False
        expect(table).to_have_class(re.compile(r"\bfree\b"), timeout=LIVE_TIMEOUT)
        expect(page.locator(f'[data-order-id="{order_id}"]')).to_have_count(0)
        feeds_live(page)

    streams = streams_since((0, 0))
    assert traffic.sockets == [] and {urlsplit(url).path for url in streams} == {f"/ws/cafe/{f}/" for f in FEEDS}
    tickets = [parse_qs(urlsplit(url).query)["ticket"][0] for url in streams]
    assert len(set(tickets)) == len(streams), "a ticket was used twice"
    assert {urlsplit(url).path for url in streams_since(resumed)} == {f"/ws/cafe/{f}/" for f in FEEDS}
    for url in streams_since(resumed):
        assert "last_event_id" in parse_qs(urlsplit(url).query), url
    assert {url for method, url in traffic.rest_since(resumed) if method == "GET"} == set(), "it refetched"
    assert_no_token_in_urls(traffic, stored_tokens(page))
    assert errors == []


# axe-core from the npm registry, installed once into a cache folder the repository ignores.
AXE_VERSION = "4.10.3"
AXE_CACHE = Path(__file__).resolve().parent.parent / ".cache" / f"axe-core-{AXE_VERSION}"
AXE_SCRIPT = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = ((1920, 1080), (390, 844), (1366, 768))


def axe_script() -> Path:
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        problem = None if npm else "npm is not installed (apt-get install npm)"
        if npm:
            AXE_CACHE.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [npm, "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0 or not AXE_SCRIPT.exists():
                problem = f"npm could not install axe-core@{AXE_VERSION}: {done.stderr[-500:]}"
        if problem:
            if SERVICES_REQUIRED:
                pytest.fail(f"{problem}, and CI=true requires it")
            pytest.skip(problem)
    return AXE_SCRIPT


def serious_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2 A and AA rules, best practices)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated through the browser's debugging protocol: the board's CSP (script-src 'self') refuses an
        # injected <script> tag, as it should.
        page.evaluate(axe_script().read_text() + "\n;undefined")
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map((found) => ({
            id: found.id, impact: found.impact, help: found.help,
            nodes: found.nodes.slice(0, 3).map((node) => node.target.join(" ")),
        }))"""
    )
    return [found for found in violations if found["impact"] in ("serious", "critical")]


def assert_readable(page: Page, where: str) -> None:
    """At each of the three screens: no sideways scroll, and nothing serious for axe."""
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{where} at {width}x{height} scrolls sideways ({wide} px wide)"
        if width < 1000:
            # A phone scrolls down the whole list: nothing is cut into "+N more".
            cut = page.evaluate("document.querySelectorAll('ul.clip > li[hidden], ul.clip > li.more').length")
            assert cut == 0, f"{where} at {width}x{height} cuts {cut} entries from a list"
        assert serious_violations(page) == [], f"{where} at {width}x{height}"


def test_the_sign_in_page_reads_on_every_screen(browser: Browser, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/board.db"
    with uvicorn_server(server_env(database_url)) as host:
        page, errors = open_page(browser, f"http://{host}", Traffic())
        page.wait_for_selector("#login-form")
        assert_readable(page, "the sign-in page")
    assert errors == []


def test_a_station_board_flags_late_portions_and_bumps_and_recalls(browser: Browser, tmp_path: Path) -> None:
    """A cook's bar screen (/board/?station=bar): only the bar's portions, the server's late alarm, Ready, Bump and
    Recall; the wall board beside it shows both stations, "+N more" where a column is full, and an alarm once the
    bar's screen has gone; every screen size stays readable."""
    from playwright.sync_api import expect

    database_url = f"sqlite:///{tmp_path}/board.db"
    env = server_env(database_url, LATE_CHECK_INTERVAL="0.2", SCREEN_INTERVAL="0.3", SCREEN_GRACE="1")
    owner_email = create_company_in(database_url)
    with uvicorn_server(env) as host, httpx2.Client(base_url=f"http://{host}") as http:
        cafe = furnish(http, owner_email)
        owner = {"Authorization": f"Bearer {token_for(http, owner_email)}"}
        waiter = {"Authorization": f"Bearer {cafe['waiter_token']}"}
        cook_email = f"cook-{uuid.uuid4().hex[:8]}@test.cafe"
        cook_body = {"email": cook_email, "password": PASSWORD, "role": "cook", "branch": cafe["branch"]}
        http.post("/api/users/", json=cook_body, headers=owner).raise_for_status()
        drink = {"title": "Lemonade", "price": "90.00", "station": "bar", "prep_minutes": 5}
        lemonade = http.post("/api/cafe/menu-items/", json=drink, headers=owner).json()
        lines = [{"menu_item": lemonade["id"], "quantity": 1}, {"menu_item": cafe["menu_item"], "quantity": 30}]
        order = http.post("/api/cafe/orders/", json={"table": cafe["table"], "items": lines}, headers=waiter).json()
        (drink_task,) = http.get("/api/cafe/kitchen/tasks/", params={"station": "bar"}, headers=owner).json()

        bar, bar_errors = open_page(browser, f"http://{host}", Traffic(), "/board/?station=bar")
        bar.set_viewport_size({"width": 1920, "height": 1080})
        sign_in(bar, cook_email)
        feeds_live(bar)
        expect(bar.locator("h1:visible")).to_have_text(re.compile(r"^Bar · Main$"))
        portion = bar.locator(f'[data-task-id="{drink_task["id"]}"]')
        expect(portion).to_have_attribute("data-status", "pending")
        expect(bar.locator("[data-task-id]")).to_have_count(1)
        expect(portion).not_to_have_class(re.compile(r"\blate\b"))

        wall, wall_errors = open_page(browser, f"http://{host}", Traffic())
        wall.set_viewport_size({"width": 1920, "height": 1080})
        sign_in(wall, cook_email)
        feeds_live(wall)
        expect(wall.locator(".station")).to_have_count(2)
        expect(wall.locator('.station[data-station="kitchen"] [data-task-id]')).to_have_count(30)
        shown = wall.locator('.station[data-station="kitchen"] [data-task-id]:visible').count()
        more = wall.locator('.station[data-station="kitchen"] .more')
        expect(more).to_have_text(f"+{30 - shown} more")
        assert 0 < shown < 30

        # Its five minutes are up at once; the board's own clock still has it due later: only the server knows.
        due = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 1))
        with sqlite3.connect(f"{tmp_path}/board.db") as db:
            db.execute("UPDATE kitchen_tasks SET due_at = ? WHERE id = ?", (due, drink_task["id"]))
        expect(portion).to_have_attribute("data-late", "server")
        expect(portion).to_have_class(re.compile(r"\blate\b"))
        expect(wall.locator(f'[data-task-id="{drink_task["id"]}"]')).to_have_attribute("data-late", "server")
        assert_readable(bar, "a station board")
        bar.set_viewport_size({"width": 1920, "height": 1080})

        portion.locator('button[data-action="ready"]').click()
        expect(portion).to_have_attribute("data-status", "ready")
        portion.locator('button[data-action="served"]').click()
        expect(bar.locator(f'#tasks [data-task-id="{drink_task["id"]}"]')).to_have_count(0)
        served = bar.locator(f'#served-tasks [data-task-id="{drink_task["id"]}"]')
        expect(served).to_have_attribute("data-status", "served")
        served.locator('button[data-action="recall"]').click()
        expect(bar.locator(f'#tasks [data-task-id="{drink_task["id"]}"]')).to_have_attribute(
            "data-status", "in_progress"
        )
        expect(served).to_have_count(0)
        task = http.get(f"/api/cafe/kitchen/tasks/{drink_task['id']}/", headers=owner).json()
        assert (task["status"], task["order"]) == ("in_progress", order["id"])

        # The bar's screen goes dark: after the grace period the wall says so, and stops when it is back.
        bar.close()
        alarm = wall.locator('.alarm[data-station="bar"]')
        expect(alarm).to_be_visible(timeout=LIVE_TIMEOUT)
        expect(alarm).to_contain_text("Bar: no screen")
        assert_readable(wall, "the wall board")
        again, again_errors = open_page(browser, f"http://{host}", Traffic(), "/board/?station=bar")
        sign_in(again, cook_email)
        feeds_live(again)
        expect(alarm).to_have_count(0, timeout=LIVE_TIMEOUT)
    assert bar_errors == wall_errors == again_errors == []
