"""End to end in a real headless Chromium: upload, edit, roll back by a click on the tree,
edit again; the bundled model's welcome and starters; a newcomer's session with a missed
edit, the sidebar, refusals and an undo; a lineage of 200 images. Every test runs with
the offline guard (offline.py): a request that leaves the machine fails it.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`; .ci/run
installs it) and Python playwright; no browser is downloaded. The app runs as
`streamlit run chat_app.py` on a free loopback port over a tiny random FLUX, or over
the bundled model. The finished pages are saved to artifacts/ (e2e-lineage.png;
e2e-first-edit.png, the README's first screenshot, docs/first-edit.png; e2e-missed.png).
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

sys.path.insert(0, str(Path(__file__).parent))
from offline import CHROMIUM, offline_page_fixture  # noqa: F401 - the fixture

from bench.lineage_page import ALL_DRAWN, click_thumbnail
from mtedit.servers import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

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


# -- the page's parts, as a person finds them -------------------------------------------


def _nodes(page):
    """The lineage tree's cells (inside the component's shadow root: CSS locators reach in)."""
    return page.locator(".lt-node[data-id]")


def _labels(page) -> list[str]:
    return page.locator(".lt-node .lt-label").all_inner_texts()


def _head_label(page) -> str:
    return page.locator(".lt-node.lt-head .lt-label").inner_text()


def _ids(page) -> list[str]:
    return _nodes(page).evaluate_all("cells => cells.map(c => c.dataset.id)")


def _id_of(page, label: str) -> str:
    return page.locator(".lt-node", has=page.locator(".lt-label", has_text=label)).filter(
        has_text=label).first.get_attribute("data-id")


def _open_actions(page, node_id: str):
    """A mouse click on the node's thumbnail; returns the actions dialog once it is open.
    Checks that they open where the user is looking: inside the window, with the page
    not scrolled (the thumbnail clicked stays where it was)."""
    dialog = page.get_by_role("dialog")
    for _ in range(3):  # a click while the page still settles can be lost: again
        click_thumbnail(page, node_id)
        before = page.locator(f'.lt-node[data-id="{node_id}"] img').bounding_box()
        try:
            dialog.get_by_role("button", name="Make head").wait_for(timeout=30_000)
            break
        except playwright_api.TimeoutError:
            continue
    box, view = dialog.bounding_box(), page.viewport_size
    assert box["y"] >= 0 and box["y"] + min(box["height"], 200) <= view["height"], box
    after = page.locator(f'.lt-node[data-id="{node_id}"] img').bounding_box()
    assert abs(after["y"] - before["y"]) < 2, "the page did not scroll"
    return dialog


def _wait_idle(page) -> None:
    page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")


def _screenshot(page, path: Path, width: int = 1400) -> None:
    # The app scrolls inside its own container: grow the window to show it all.
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('section, div')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": min(max(height, 800), 4000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)


def _box(page):
    return page.get_by_test_id("stChatInputTextArea")


def _send(page, text: str, files: list[tuple[str, bytes]] = (), taken: bool = True) -> None:
    if files:
        page.locator('[data-testid="stChatInput"] input[type="file"]').set_input_files(
            [{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files]
        )
        for name, _ in files:
            page.get_by_test_id("stChatInput").get_by_text(name).wait_for(timeout=15_000)
    _box(page).fill(text)
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
            if not taken:
                return
            continue
    raise AssertionError(f"the chat input did not take the message {text!r}")


def _user_bubbles(page) -> list[str]:
    return page.locator('[data-testid="stChatMessage"]').filter(
        has=page.locator('[data-testid="stChatMessageAvatarUser"]')).all_inner_texts()


# -- the tests ----------------------------------------------------------------------------


def test_upload_edit_rollback_branch(app_url, offline_page):
    url, _ = app_url
    page, guard = offline_page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(url)
        _box(page).wait_for()
        # A conversation of its own (the server may hold other tests' conversations).
        page.get_by_test_id("stSidebar").get_by_role("button", name="New conversation").click()
        page.get_by_text("Upload a photo").wait_for()

        _send(page, "a red ball on green grass", [("ball.png", _png())])
        _nodes(page).first.wait_for()
        _send(page, "use 2 steps")  # a few seconds per edit on 2 CPU cores
        page.get_by_text("From now on").first.wait_for()
        _send(page, "make the ball blue")
        # The result: a node one turn deep in the lineage, and no running job left.
        page.locator(".lt-node .lt-label", has_text="1").first.wait_for()
        _wait_idle(page)
        assert _nodes(page).count() == 2
        assert page.locator(".lt-node .lt-sub", has_text="Make the ball blue").count() == 1
        # One element draws the whole lineage: no widget, button or iframe per image.
        assert page.locator('[data-testid="stBidiComponentIsolated"]').count() == 1
        assert page.locator("iframe").count() == 0

        # Roll back: a click on the upload's thumbnail itself, then "Make head".
        root = _ids(page)[0]
        dialog = _open_actions(page, root)
        dialog.get_by_role("button", name="Make head").click()
        page.wait_for_function("() => document.querySelector('[data-testid=\"stBidiComponent"
                               "Isolated\"]').shadowRoot.querySelector('.lt-head')"
                               f".dataset.id === '{root}'")
        assert _head_label(page) == "0"

        _send(page, "make the ball yellow")
        page.locator(".lt-node .lt-label", has_text="1b").wait_for()
        _wait_idle(page)
        page.wait_for_timeout(1000)

        # Two branches: both edits of #0 hang from it, each on a line of its own.
        edges = page.locator(f'path.lt-edge[data-from="{root}"]')
        assert edges.count() == 2, "two branches in the lineage view"
        # Every image has a label of its own: the second turn-1 image is "1b".
        assert sorted(_labels(page)) == ["0", "1", "1b"]
        # The head is on the new branch, not on the first one.
        assert _head_label(page) == "1b"
        # The chat shows the last edit with its instruction and a before | after pair.
        assert page.get_by_text("#1b · Make the ball yellow").count() == 1
        assert page.get_by_text("before (#0)").count() >= 1
        # A click on the first edit's thumbnail opens its actions where one is looking.
        dialog = _open_actions(page, _id_of(page, "1"))
        dialog.get_by_text("#1 Make the ball blue").first.wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0
        guard.assert_offline()
    finally:
        _screenshot(page, ARTIFACTS / "e2e-lineage.png")


def test_bundled_model_welcome_starters_and_a_first_edit(bundled_url, offline_page):
    """A new user's first minute: the page says what the bundled model draws, one click
    opens its example scene, one more edits it (this is the README's first screenshot)."""
    url, _ = bundled_url
    page, guard = offline_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    try:
        page.goto(url)
        page.get_by_text("only knows a toy world").wait_for()
        page.get_by_role("button", name="make the background yellow").wait_for()
        for label in ("Try an example scene", "make the circle blue",
                      "move the square to the top left", "make the background yellow"):
            assert page.get_by_role("button", name=label).count() == 1, label
        page.get_by_role("button", name="Try an example scene").click()
        _nodes(page).first.wait_for()
        page.get_by_text("a large blue square on the right").first.wait_for()
        started = time.monotonic()
        page.get_by_role("button", name="make the circle blue").click()
        page.get_by_text("#1 · Make the circle blue").wait_for()
        _wait_idle(page)
        _nodes(page).nth(1).wait_for()  # the tree is drawn after the chat in the same run
        print(f"\nbundled model, example scene, 'make the circle blue': "
              f"{time.monotonic() - started:.1f} s from the click to the result")
        assert sorted(_labels(page)) == ["0", "1"]
        assert page.get_by_text("#1 · Make the circle blue").count() == 1
        page.get_by_text("Checked: it shows a small blue circle on the left").wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0
        guard.assert_offline()
    finally:
        page.wait_for_timeout(500)
        _screenshot(page, ARTIFACTS / "e2e-first-edit.png", width=1280)


def test_a_newcomers_session_with_a_missed_edit(bundled_url, offline_page):
    """New conversation, then the example scene: one conversation, named; a request the
    bundled model misses ends with a reply saying it missed, with try again and go back;
    going back leaves the missed turn in the chat, greyed; a refused message or file is
    never shown as sent and its text stays in the box; a photo names its conversation."""
    url, _ = bundled_url
    page, guard = offline_page
    ARTIFACTS.mkdir(exist_ok=True)
    sidebar = page.get_by_test_id("stSidebar")
    try:
        page.goto(url)  # the server's latest conversation opens (another test's, if any)
        _box(page).wait_for()
        page.wait_for_timeout(1000)
        listed = sidebar.locator('[class*="st-key-conv-"] button')
        sidebar.get_by_role("button", name="New conversation").click()
        page.get_by_text("only knows a toy world").wait_for()
        page.wait_for_timeout(500)
        before = len([t for t in listed.all_inner_texts() if "Untitled (empty)" not in t])
        page.get_by_role("button", name="Try an example scene").click()
        _nodes(page).first.wait_for()
        # The scene opened in the new conversation: one more, named after the scene, no
        # empty one left behind; nothing in the list reads like the button.
        page.wait_for_timeout(500)
        titles = [t.strip() for t in listed.all_inner_texts()]
        assert listed.count() == before + 1 and titles[0].endswith("Example scene"), titles
        assert not any("New conversation" in t or "empty" in t for t in titles), titles

        _send(page, "add a small white triangle at the top")
        reply = page.get_by_text("Missed: the result does not show what was asked")
        reply.wait_for()
        _wait_idle(page)
        assert page.get_by_text("I looked for a small white triangle at the top").count() == 1
        page.get_by_role("button", name="Try again").wait_for()
        back = page.get_by_role("button", name="Go back to #0")
        assert back.is_visible()
        last = page.locator('[data-testid="stChatMessage"]').last.inner_text()
        assert "Missed:" in last and "Try again" in last and "Go back to #0" in last
        assert not last.startswith("Done")
        _screenshot(page, ARTIFACTS / "e2e-missed.png")
        page.set_viewport_size({"width": 1400, "height": 1000})

        # Go back: the missed turn stays in the chat, greyed, under a note.
        back.click()
        page.get_by_text("Undone: #1 left behind (the head is #0)").wait_for()
        block = page.locator('[class*="st-key-left-behind-"]').first
        assert float(block.evaluate("e => getComputedStyle(e).opacity")) < 1
        assert block.get_by_text("add a small white triangle at the top").count() >= 1
        assert page.locator(".lt-node.lt-left").count() == 1 and _head_label(page) == "0"

        # A message that is too long: refused, not shown as sent, the text kept.
        long = "make the circle blue " + "and very very blue " * 260
        _send(page, long, taken=False)
        page.get_by_text("That message is too long").wait_for()
        assert _box(page).input_value() == long.strip()
        assert not any(len(b) > 4000 for b in _user_bubbles(page))
        # A text file named .png: said in plain words, the words kept too.
        _box(page).fill("")
        _send(page, "here is my photo", [("notes.png", b"my notes, not a picture")],
              taken=False)
        page.get_by_text("that file is not an image mtedit can read").wait_for()
        assert "Error" not in page.locator('[data-testid="stAlert"]').last.inner_text()
        assert _box(page).input_value() == "here is my photo"
        assert "here is my photo" not in " ".join(_user_bubbles(page))

        # A photo in a new conversation takes its file's name as the title.
        _box(page).fill("")
        sidebar.get_by_role("button", name="New conversation").click()
        page.get_by_text("only knows a toy world").wait_for()
        _send(page, "", [("beach.png", _png())])
        sidebar.get_by_text("beach.png").wait_for()
        # An empty conversation is not kept once the user leaves it.
        count = listed.count()
        sidebar.get_by_role("button", name="New conversation").click()
        sidebar.get_by_text("Untitled (empty)").wait_for()
        assert listed.count() == count + 1
        listed.filter(has_text="beach.png").click()
        sidebar.get_by_text("Untitled (empty)").wait_for(state="detached")
        assert listed.count() == count
        assert page.locator('[data-testid="stException"]').count() == 0
        guard.assert_offline()
    finally:
        _screenshot(page, ARTIFACTS / "e2e-newcomer.png")


def test_a_lineage_of_200_images_renders_fast(app_url, offline_page):
    """200 images in a tree of 20 branches: every one has its own label and cell; the
    time the page takes is printed (navigation until every thumbnail is drawn; a click
    until its actions are open). `python -m bench.app_lineage` measures it properly."""
    import torch

    from editing_core import latent_to_bytes
    from storage import Store

    url, data = app_url
    page, guard = offline_page
    store = Store.open(data_dir=data)
    conv = store.create_conversation("two hundred").id
    png, latent = _png(), latent_to_bytes(torch.zeros(1, 4, 8, 12))
    node = root = store.add_upload(conv, png, "a red ball on green grass", latent)
    for i in range(1, 200):
        parent = root if i % 10 == 0 else node  # a new branch from the root every 10
        node = store.add_edit(parent.id, png, latent, f"a ball, version {i}",
                              instruction=f"make version {i}")
    ids = [n.id for n in store.nodes(conv)]
    try:
        started = time.monotonic()
        page.goto(f"{url}/?c={conv}")
        page.wait_for_function(ALL_DRAWN, arg=200)
        page_s = time.monotonic() - started
        labels = _labels(page)
        print(f"\nlineage of 200 images: page load to every thumbnail drawn {page_s:.1f} s")
        assert len(labels) == 200 and len(set(labels)) == 200
        assert page.locator(f'path.lt-edge[data-from="{root.id}"]').count() == 20
        started = time.monotonic()
        dialog = _open_actions(page, ids[150])
        assert dialog.get_by_text("#1p make version 150").count() >= 1
        print(f"a click on a thumbnail to its actions: {time.monotonic() - started:.1f} s")
        guard.assert_offline()
    finally:
        page.screenshot(path=str(ARTIFACTS / "e2e-lineage-200.png"))
        store.close()
