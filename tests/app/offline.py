"""Browser tests that fail on any request leaving the machine.

Every request of a Playwright browser context is routed here: loopback (127.0.0.0/8,
localhost, ::1), data: and blob: go through; anything else is recorded and aborted, as
it would fail on a machine without a network. A test then calls `guard.assert_offline()`
(or uses the `offline_page` fixture, which checks again when the test ends):

    with offline(context) as guard:       # any Playwright BrowserContext
        page = context.new_page(); ...
        guard.assert_offline()

WebSockets are not routed (Streamlit's own must pass untouched): one to another host is
recorded, and fails the check the same way. Service workers are blocked in the fixture's
context so that their requests cannot bypass the routing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_SCHEMES = {"data", "blob", "about"}


def is_local(url: str) -> bool:
    """True for a URL that stays on this machine."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OfflineGuard:
    """Records (and aborts) what a browser context asks of other machines."""

    def __init__(self) -> None:
        self.refused: list[str] = []  # "resource type URL", in the order asked
        self._reported = 0

    def install(self, context) -> None:
        context.route("**/*", self._route)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _route(self, route) -> None:
        request = route.request
        if is_local(request.url):
            route.fallback()
        else:
            self.refused.append(f"{request.resource_type} {request.url}")
            route.abort("internetdisconnected")

    def _watch_page(self, page) -> None:
        page.on("websocket", self._websocket)

    def _websocket(self, ws) -> None:
        if not is_local(ws.url):
            self.refused.append(f"websocket {ws.url}")

    def assert_offline(self) -> None:
        """Fail, listing every request that tried to leave the machine so far."""
        self._reported = len(self.refused)
        if self.refused:
            listed = "\n  ".join(dict.fromkeys(self.refused))
            raise AssertionError(
                f"the page asked for {len(self.refused)} thing(s) from outside the machine "
                f"(aborted):\n  {listed}")

    def unreported(self) -> list[str]:
        return self.refused[self._reported:]


@contextmanager
def offline(context) -> Iterator[OfflineGuard]:
    """Guard a Playwright BrowserContext; checks once more on leaving the block."""
    guard = OfflineGuard()
    guard.install(context)
    yield guard
    if guard.unreported():
        guard.assert_offline()


@pytest.fixture(name="offline_page")
def offline_page_fixture():
    """`offline_page`: (page, guard), a fresh headless Chromium page whose requests may
    not leave the machine. Call guard.assert_offline() in the test; requests made after
    that call fail the test at teardown."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      service_workers="block")
        guard = OfflineGuard()
        guard.install(context)
        page = context.new_page()
        page.set_default_timeout(90_000)
        try:
            yield page, guard
        finally:
            late = guard.unreported()
            browser.close()
        if late:
            pytest.fail("the page asked for things from outside the machine after the "
                        "test's check:\n  " + "\n  ".join(dict.fromkeys(late)))
