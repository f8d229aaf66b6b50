"""End to end in a real headless Chromium: upload, edit, roll back by a click, edit again;
the bundled model's welcome and starters; a lineage of 200 images.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`; .ci/run
installs it) and Python playwright; no browser is downloaded. The app runs as
`streamlit run chat_app.py` on a free loopback port over a tiny random FLUX, or over
the bundled model. The finished pages are saved to artifacts/ (e2e-lineage.png;
e2e-first-edit.png, the README's first screenshot, docs/first-edit.png).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mtedit.servers import free_port, stop

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




def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 64), (90, 160, 80))
    ImageDraw.Draw(img).ellipse((30, 14, 66, 50), fill=(210, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _serve(tmp: Path, model: str, **extra: str):
    """Start `streamlit run chat_app.py` on a free port; yields (url, data folder)."""
    port = free_port()
    env = {
        **os.environ,
        "MTEDIT_MODEL": model,
        "MTEDIT_DATA_DIR": str(tmp / "data"),
        "MTEDIT_DEVICE": "cpu",
        "MTEDIT_PLANNER": "offline",
        "HF_HUB_OFFLINE": "1",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **extra,
    }
    env.pop("MTEDIT_CONFIG", None)
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
        yield url, tmp / "data"
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from editing_core.testing import build_tiny_flux

    tmp = tmp_path_factory.mktemp("e2e")
    model = build_tiny_flux(tmp / "model")
    yield from _serve(tmp, str(model), MTEDIT_MAX_SIDE="64")


@pytest.fixture(scope="module")
def bundled_url(tmp_path_factory):
    from mtedit.settings import BUNDLED_MODEL

    yield from _serve(tmp_path_factory.mktemp("e2e-bundled"), str(BUNDLED_MODEL))


def _browser(p):
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    return browser, page


def _click_thumbnail(page, cell) -> None:
    """Click the middle of a lineage cell's image, as a person does (the cell's
    invisible button lies over it)."""
    cell.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    box = cell.locator("img").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _labels(page) -> list[str]:
    return page.locator('[class*="st-key-node-"] .mt-label b').all_inner_texts()


def _screenshot(page, path: Path, width: int = 1400) -> None:
    # The app scrolls inside its own container: grow the window to show it all.
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('section, div')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": min(max(height, 800), 4000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)


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


def _cells(page):
    return page.locator('[class*="st-key-node-"]')


def test_upload_edit_rollback_branch(app_url):
    url, _ = app_url
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser, page = _browser(p)
        try:
            page.goto(url)
            page.get_by_test_id("stChatInputTextArea").wait_for()

            _send(page, "a red ball on green grass", [("ball.png", _png())])
            _cells(page).first.wait_for()
            _send(page, "use 2 steps")  # a few seconds per edit on 2 CPU cores
            page.get_by_text("From now on").first.wait_for()
            _send(page, "make the ball blue")
            # The result: a node one turn deep in the lineage, and no running job left.
            page.locator('[class*="st-key-node-"] .mt-label', has_text="1").first.wait_for()
            page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
            assert _cells(page).count() == 2
            assert page.locator(".mt-what", has_text="Make the ball blue").count() == 1

            # Roll back: a click on the upload's thumbnail itself, then "Make head".
            _click_thumbnail(page, _cells(page).first)
            page.get_by_role("button", name="Make head").click()
            page.locator(".st-key-node-head .mt-label", has_text="0").wait_for()

            _send(page, "make the ball yellow")
            page.get_by_text("Branch 2 · from #0").wait_for()
            page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
            page.wait_for_timeout(1000)

            lineage = page.locator('[class*="st-key-lineage-row-"]')
            assert lineage.count() == 2, "two branches in the lineage view"
            # Every image has a label of its own: the second turn-1 image is "1b".
            assert sorted(_labels(page)) == ["0", "1", "1b"]
            # The head is on the new branch, not on the first one.
            assert lineage.nth(1).locator(".st-key-node-head").count() == 1
            # The chat shows the last edit with its instruction and a before | after pair.
            assert page.get_by_text("#1b · Make the ball yellow").count() == 1
            assert page.get_by_text("before (#0)").count() >= 1
            # A click on the first edit's thumbnail opens its actions.
            _click_thumbnail(page, lineage.nth(0).locator('[class*="st-key-node-"]').last)
            page.get_by_text("#1 Make the ball blue").first.wait_for()
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            _screenshot(page, ARTIFACTS / "e2e-lineage.png")
            browser.close()


def test_bundled_model_welcome_starters_and_a_first_edit(bundled_url):
    """A new user's first minute: the page says what the bundled model draws, one click
    opens its example scene, one more edits it (this is the README's first screenshot)."""
    url, _ = bundled_url
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser, page = _browser(p)
        try:
            page.goto(url)
            page.get_by_text("only knows a toy world").wait_for()
            page.get_by_role("button", name="make the background yellow").wait_for()
            for label in ("Try an example scene", "make the circle blue",
                          "move the square to the top left", "make the background yellow"):
                assert page.get_by_role("button", name=label).count() == 1, label
            page.get_by_role("button", name="Try an example scene").click()
            _cells(page).first.wait_for()
            page.get_by_text("a large blue square on the right").first.wait_for()
            started = time.monotonic()
            page.get_by_role("button", name="make the circle blue").click()
            page.locator(".mt-what", has_text="Make the circle blue").wait_for()
            page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
            print(f"\nbundled model, example scene, 'make the circle blue': "
                  f"{time.monotonic() - started:.1f} s from the click to the result")
            assert sorted(_labels(page)) == ["0", "1"]
            assert page.get_by_text("#1 · Make the circle blue").count() == 1
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            page.wait_for_timeout(500)
            _screenshot(page, ARTIFACTS / "e2e-first-edit.png", width=1280)
            browser.close()


def test_a_lineage_of_200_images_renders_fast(app_url):
    """200 images in a tree of 20 branches: every one has its own label and cell; the
    time the page takes is printed (server: the lineage column; browser: load to done)."""
    import torch

    from editing_core import latent_to_bytes
    from storage import Store

    url, data = app_url
    store = Store.open(data_dir=data)
    conv = store.create_conversation("two hundred").id
    png, latent = _png(), latent_to_bytes(torch.zeros(1, 4, 8, 12))
    node = root = store.add_upload(conv, png, "a red ball on green grass", latent)
    for i in range(1, 200):
        parent = root if i % 10 == 0 else node  # a new branch from the root every 10
        node = store.add_edit(parent.id, png, latent, f"a ball, version {i}",
                              instruction=f"make version {i}")
    with playwright_api.sync_playwright() as p:
        browser, page = _browser(p)
        try:
            started = time.monotonic()
            page.goto(f"{url}/?c={conv}")
            page.wait_for_function(
                "document.querySelectorAll('[class*=\"st-key-node-\"] img').length >= 200"
            )
            page.locator(".mt-lineage-ms").wait_for(state="attached")
            page_s = time.monotonic() - started
            server_ms = float(page.locator(".mt-lineage-ms").get_attribute("data-ms"))
            labels = _labels(page)
            print(f"\nlineage of 200 images: page load to all cells {page_s:.1f} s; "
                  f"the lineage column on the server {server_ms:.0f} ms")
            assert len(labels) == 200 and len(set(labels)) == 200
            assert page.get_by_text("Branch 20 · from #0").count() == 1
            started = time.monotonic()
            for _ in range(3):  # a click while the page still settles can be lost: again
                _click_thumbnail(page, _cells(page).nth(150))
                try:
                    page.get_by_role("button", name="Make head").wait_for(timeout=30_000)
                    break
                except playwright_api.TimeoutError:
                    continue
            assert page.get_by_text("#1p make version 150").count() >= 1
            print(f"a click on a thumbnail to its actions: {time.monotonic() - started:.1f} s")
        finally:
            page.screenshot(path=str(ARTIFACTS / "e2e-lineage-200.png"))
            browser.close()
