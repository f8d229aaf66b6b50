"""Nothing the page needs comes from outside the machine (an editor that runs offline
serves everything itself). The guard (offline.py) refuses and lists such requests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from offline import CHROMIUM, is_local, offline_page_fixture  # noqa: F401 - the fixture


def test_what_counts_as_this_machine():
    for url in ("http://127.0.0.1:8501/", "http://localhost:8501/_stcore/health",
                "ws://127.0.0.1:9/_stcore/stream", "http://127.8.0.1/", "http://[::1]:80/",
                "data:image/png;base64,AAAA", "blob:http://127.0.0.1:8501/ab-cd", "about:blank"):
        assert is_local(url), url
    for url in ("https://fonts.gstatic.com/s/i/x/24px.svg", "http://192.168.1.2/",
                "https://data.streamlit.io/metrics.json", "http://localhost.example.com/",
                "http://10.0.0.1:8501/"):
        assert not is_local(url), url


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
def test_the_guard_refuses_and_lists_a_request_to_another_host(offline_page):
    page, guard = offline_page
    page.set_content('<img src="https://fonts.gstatic.com/s/i/icon/24px.svg">'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">')
    page.wait_for_load_state("load")
    with pytest.raises(AssertionError, match="fonts.gstatic.com"):
        guard.assert_offline()
    assert guard.refused == ["image https://fonts.gstatic.com/s/i/icon/24px.svg"]
    assert page.evaluate("document.images[0].naturalWidth") == 0  # aborted, not loaded


@pytest.fixture(scope="module")
def app_page_url(tmp_path_factory):
    from test_browser import _serve  # the end-to-end test's server, on the bundled model

    from mtedit.settings import BUNDLED_MODEL

    yield from _serve(tmp_path_factory.mktemp("offline"), str(BUNDLED_MODEL))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
def test_the_app_page_asks_nothing_from_outside_the_machine(app_page_url, offline_page):
    """Icons included: the tab's icon is app/assets/favicon.png, served by the app itself
    (a ":material/..." page_icon would be fetched from a public font server)."""
    url, _ = app_page_url
    page, guard = offline_page
    page.goto(url)
    icon = page.locator('link[rel~="icon"]').first
    icon.wait_for(state="attached")
    assert icon.get_attribute("href").startswith(("/", url, "./", "data:")), \
        icon.get_attribute("href")
    page.get_by_text("only knows a toy world").wait_for()
    page.get_by_role("button", name="Try an example scene").click()
    page.get_by_text("a large blue square on the right").first.wait_for()
    # The settings expander: one more :material/ icon (drawn with the bundled font).
    page.locator('[data-testid="stExpander"] summary', has_text="Settings").click()
    page.wait_for_load_state("networkidle")
    # The drawing canvas (streamlit-drawable-canvas): its script and style come from the
    # app itself, and the image under it is a data URI.
    served: list[str] = []
    page.on("request", lambda r: served.append(r.url) if "drawable_canvas" in r.url else None)
    page.get_by_text("Mark where to edit").click()
    page.locator("canvas.upper-canvas").wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)
    assert served and all(u.startswith(url) for u in served), served
    guard.assert_offline()
