"""In a real headless Chromium, on the bundled model, under the offline guard: a region
marked on the current image limits the next chat edit to it. A dragged box: the stored
result and the stored image before it are read from the store, and outside the box every
pixel is the same byte for byte; the box is the node's stored mask, outlined on the
before | after pair, on the edit's thumbnail in the lineage and in its dialog. A loop
drawn around a thing: what it encloses is the mask, and outside it nothing changed. The
drawing component asks nothing of other machines."""

from __future__ import annotations

import base64
import io
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from offline import CHROMIUM, offline_page_fixture  # noqa: F401 - the fixture
from test_browser import ARTIFACTS, _box, _screenshot, _send, _serve, _wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"),
]
pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")


@pytest.fixture(scope="module")
def bundled_url(tmp_path_factory):
    from mtedit.settings import BUNDLED_MODEL

    yield from _serve(tmp_path_factory.mktemp("e2e-regions"), str(BUNDLED_MODEL))


def _drag(page, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag on the canvas, from and to shares of its width and height."""
    box = canvas.bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in
          (start, end)]
    page.mouse.move(*at[0])
    page.mouse.down()
    for k in range(1, 9):
        page.mouse.move(at[0][0] + (at[1][0] - at[0][0]) * k / 8,
                        at[0][1] + (at[1][1] - at[0][1]) * k / 8)
    page.mouse.up()


def _trace(page, canvas, centre: tuple[float, float], radius: float) -> None:
    """A closed loop drawn with the mouse around `centre` (shares of the canvas)."""
    box = canvas.bounding_box()
    points = [(box["x"] + (centre[0] + radius * np.cos(a)) * box["width"],
               box["y"] + (centre[1] + radius * np.sin(a)) * box["height"])
              for a in np.linspace(0, 2 * np.pi, 33)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p)
    page.mouse.up()


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _outlined(rgb: np.ndarray) -> int:
    """How many pixels have the overlay's magenta (agent/chat/overlay.py)."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return int(((r > 190) & (g < 120) & (b > 150)).sum())


def _shown(page, img) -> np.ndarray:
    """The pixels of an image on the page, as the server sent them."""
    src = img.evaluate("i => i.currentSrc")
    if src.startswith("data:"):
        return _rgb(base64.b64decode(src.split(",", 1)[1]))
    return _rgb(urllib.request.urlopen(src, timeout=30).read())


def _stored(data, instruction: str):
    """The head edit of the newest conversation: (node, after, before, mask as bool)."""
    from storage import Store

    with Store.open(data_dir=data) as store:
        conv = store.latest_conversation()
        edit = store.head(conv.id)
        assert edit.parent_id is not None and edit.instruction == instruction
        after = _rgb(store.read_image(edit))
        before = _rgb(store.read_image(edit.parent_id))
        mask = np.asarray(Image.open(io.BytesIO(store.read_mask(edit)))) >= 128
    return edit, after, before, mask


def _example_scene(page) -> None:
    page.get_by_test_id("stSidebar").get_by_role("button", name="New conversation").click()
    page.get_by_role("button", name="Try an example scene").click()
    page.locator(".lt-node").first.wait_for()


def _marking_canvas(page, url, *, draw: bool = False):
    """The app with the example scene and the marking canvas open (its "Draw" tool when
    draw), once the canvas holds its background image."""
    page.goto(url)
    _box(page).wait_for()
    _example_scene(page)
    page.get_by_text("Mark where to edit").click()
    if draw:
        page.get_by_role("radio", name="Draw", exact=True).click()
        page.get_by_text("Brush").wait_for()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    page.wait_for_timeout(1000)  # the canvas takes its background image
    return canvas


def test_a_dragged_box_limits_a_chat_edit_to_it(bundled_url, offline_page):
    url, data = bundled_url
    page, guard = offline_page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        canvas = _marking_canvas(page, url)
        # The right half, below the top eighth: over the large blue square.
        _drag(page, canvas, (0.5, 0.125), (0.98, 0.9))
        said = page.get_by_text("Your next edit changes only the box")
        said.wait_for()
        x0, y0, x1, y1 = (int(v) for v in said.inner_text().split("box ")[1].split(".")[0]
                          .replace(" – ", ",").split(","))
        assert (x0, y0) == (32, 8) and 60 <= x1 <= 64 and 56 <= y1 <= 58, (x0, y0, x1, y1)

        _send(page, "make the square red")
        page.get_by_text("#1 · Make the square red").wait_for()
        _wait_idle(page)
        page.get_by_text("Edited inside the outline").first.wait_for()
        # the mark went with the message: the canvas is put away
        assert page.locator("canvas.upper-canvas").count() == 0

        edit, after, before, mask = _stored(data, "Make the square red")
        inside = np.zeros(mask.shape, bool)
        inside[y0:y1, x0:x1] = True
        assert (mask == inside).all()  # the box is the node's mask
        assert (after[~inside] == before[~inside]).all()  # nothing outside it changed
        assert (after[inside] != before[inside]).any()  # and the edit did something in it

        # the box is outlined on the before | after pair and on the edit's thumbnail in
        # the lineage, not on the scene's own
        for caption in ("before (#0)", "after (#1)"):
            img = page.get_by_test_id("stImage").filter(has_text=caption).locator("img")
            assert _outlined(_shown(page, img)) > 100, caption
        assert _outlined(_shown(page, page.locator(f'.lt-node[data-id="{edit.id}"] img'))) > 20
        assert _outlined(_shown(page, page.locator(
            f'.lt-node[data-id="{edit.parent_id}"] img'))) == 0

        # and in the lineage's dialog
        page.locator(f'.lt-node[data-id="{edit.id}"] img').click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Make head").wait_for()
        assert dialog.get_by_text("Edited inside the outline").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
        guard.assert_offline()
    finally:
        _screenshot(page, ARTIFACTS / "e2e-region-box.png")


def test_a_loop_drawn_around_a_thing_limits_a_chat_edit_to_what_it_encloses(
        bundled_url, offline_page):
    url, data = bundled_url
    page, guard = offline_page
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        canvas = _marking_canvas(page, url, draw=True)
        # A loop around the small red circle on the left (about 0.2, 0.5 of the frame).
        _trace(page, canvas, (0.19, 0.5), 0.16)
        page.get_by_text("Your next edit changes only what you drew").wait_for()

        _send(page, "make the circle blue")
        page.get_by_text("#1 · Make the circle blue").wait_for()
        _wait_idle(page)
        page.get_by_text("Edited inside the outline").first.wait_for()

        _, after, before, mask = _stored(data, "Make the circle blue")
        h, w = mask.shape
        assert mask[h // 2, round(0.19 * w)]  # the loop's inside is marked, not only its line
        assert not mask[:, w // 2:].any() and not mask[:h // 5].any()  # far from it is not
        assert (after[~mask] == before[~mask]).all()  # nothing outside the loop changed
        assert (after[mask] != before[mask]).any()
        assert page.locator('[data-testid="stException"]').count() == 0
        guard.assert_offline()
    finally:
        _screenshot(page, ARTIFACTS / "e2e-region-drawn.png")
