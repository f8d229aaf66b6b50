"""End to end in a real headless Chromium: upload, edit, roll back by a click, edit again.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`; .ci/run
installs it) and Python playwright; no browser is downloaded. The app runs as
`streamlit run chat_app.py` on a free loopback port over a tiny random FLUX.
The finished page is saved to artifacts/e2e-lineage.png.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 64), (90, 160, 80))
    ImageDraw.Draw(img).ellipse((30, 14, 66, 50), fill=(210, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from editing_core.testing import build_tiny_flux

    tmp = tmp_path_factory.mktemp("e2e")
    model = build_tiny_flux(tmp / "model")
    port = _free_port()
    env = {
        **os.environ,
        "MTEDIT_MODEL": str(model),
        "MTEDIT_DATA_DIR": str(tmp / "data"),
        "MTEDIT_DEVICE": "cpu",
        "MTEDIT_MAX_SIDE": "64",
        "MTEDIT_PLANNER": "offline",
        "HF_HUB_OFFLINE": "1",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed in teardown
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "chat_app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp / "server.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _send(page, text: str, files: list[tuple[str, bytes]] = ()) -> None:
    if files:
        page.locator('[data-testid="stChatInput"] input[type="file"]').set_input_files(
            [{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files]
        )
        for name, _ in files:
            page.get_by_test_id("stChatInput").get_by_text(name).wait_for(timeout=15_000)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    # On a loaded machine the upload may still be in flight: the submit button is
    # disabled until it finishes, and an early Enter is dropped. Click when enabled and
    # check that the box was emptied (the message was taken), else try again.
    submit = page.get_by_test_id("stChatInputSubmitButton")
    for _ in range(3):
        submit.click()
        try:
            page.wait_for_function(
                "document.querySelector('[data-testid=\"stChatInputTextArea\"]').value === ''",
                timeout=15_000,
            )
            return
        except playwright_api.TimeoutError:
            continue
    raise AssertionError(f"the chat input did not take the message {text!r}")


def _node_buttons(page):
    return page.locator('[class*="st-key-pick-"] button')


def test_upload_edit_rollback_branch(app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)
        try:
            page.goto(app_url)
            page.get_by_test_id("stChatInputTextArea").wait_for()

            _send(page, "a red ball on green grass", [("ball.png", _png())])
            page.wait_for_function(
                "document.querySelectorAll('[class*=\"st-key-pick-\"] button').length >= 1"
            )
            _send(page, "use 2 steps")  # a few seconds per edit on 2 CPU cores
            page.get_by_text("From now on").first.wait_for()
            _send(page, "make the ball blue")
            # The result: a node one turn deep in the lineage, and no running job left.
            page.locator('[class*="st-key-pick-"] button', has_text="#1").first.wait_for()
            page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
            first = _node_buttons(page).count()
            assert first >= 2

            # Roll back by clicking the upload's node, then "Make head".
            _node_buttons(page).filter(has_text="#0").first.click()
            page.get_by_role("button", name="Make head").click()
            page.locator('[class*="st-key-pick-"] button', has_text="#0 ●").first.wait_for()

            _send(page, "make the ball yellow")
            page.get_by_text("Branch 2").wait_for()
            page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
            page.wait_for_timeout(1000)

            lineage = page.locator('[class*="st-key-lineage-row-"]')
            assert lineage.count() == 2, "two branches in the lineage view"
            assert _node_buttons(page).count() > first
            # The head is on the new branch, not on the first one.
            assert lineage.nth(1).locator(".st-key-node-head").count() == 1
            # The chat shows the last edit with its instruction and a before | after pair.
            assert page.get_by_text("#1 · Make the ball yellow").count() == 1
            assert page.get_by_text("before (#0)").count() >= 1
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            # The app scrolls inside its own container: grow the window to show it all.
            height = page.evaluate(
                "Math.max(...[...document.querySelectorAll('section, div')]"
                ".map(e => e.scrollHeight))"
            )
            page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 4000)})
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "e2e-lineage.png"), full_page=True)
            browser.close()
