"""The lineage tree component in a real headless Chromium, on its demo page (200 made-up
images): one element, a branch line per parent link, the head marked and in view, a
mouse click on a thumbnail reaching Python (twice on the same one: twice), nothing
asked from outside the machine. Needs /usr/bin/chromium and playwright (dev extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from offline import CHROMIUM, offline_page_fixture  # noqa: F401 - the fixture

from app.lineage_tree.sample import synthetic_nodes
from bench.lineage_page import ALL_DRAWN, click_thumbnail, serve_demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]
pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) missing")

N = 200


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    with serve_demo(tmp_path_factory.mktemp("tree") / "server.log") as url:
        yield url


def _tree(page, js: str):
    """Evaluate `js` (a function of the tree's shadow root) in the page."""
    return page.evaluate(
        "js => new Function('root', js)("
        "document.querySelector('[data-testid=\"stBidiComponentIsolated\"]').shadowRoot)", js)


def _clicked(page) -> str:
    return page.locator(".st-key-clicked").inner_text()


def test_a_200_image_tree_is_one_element_with_branch_lines_and_answers_clicks(
        demo_url, offline_page):
    page, guard = offline_page
    nodes = synthetic_nodes(N)
    head = next(n for n in nodes if n["is_head"])
    behind = {n["id"] for n in nodes if n["left_behind"]}
    page.goto(f"{demo_url}/?n={N}")
    page.wait_for_function(ALL_DRAWN, arg=N)

    # One element for the whole tree: no iframe, no widget per node.
    assert page.locator('[data-testid="stBidiComponentIsolated"]').count() == 1
    assert page.locator("iframe").count() == 0
    assert page.locator(".lt-node").count() == N
    assert page.locator('[data-testid="stButton"]').count() == 1  # the demo's own button

    # A branch line per parent link (nodes minus roots), each from the right parent.
    edges = _tree(page, "return [...root.querySelectorAll('path.lt-edge')]"
                        ".map(e => [e.dataset.from, e.dataset.to, e.getAttribute('d')])")
    expected = {(n["parent_id"], n["id"]) for n in nodes if n["parent_id"]}
    assert len(edges) == N - 1 == len(expected)
    assert {(a, b) for a, b, _ in edges} == expected
    assert all(d.startswith("M") and len(d) > 4 for _, _, d in edges)
    assert _tree(page, "return root.querySelectorAll('path.lt-edge.lt-left').length") \
        == len(behind) == 3

    # The head: marked once, with its badge, and drawn inside the box's visible part.
    heads = page.locator(".lt-node.lt-head")
    assert heads.count() == 1
    assert heads.get_attribute("data-id") == head["id"]
    assert heads.get_attribute("aria-current") == "true"
    assert heads.locator(".lt-badge").inner_text() == "head"
    box = page.locator(".lt-scroll").bounding_box()
    cell = heads.bounding_box()
    assert box["y"] <= cell["y"] and cell["y"] + cell["height"] <= box["y"] + box["height"]
    assert sorted(page.locator(".lt-node.lt-left").evaluate_all(
        "cells => cells.map(c => c.dataset.id)")) == sorted(behind)

    # Labels under the thumbnails, the whole instruction on hover.
    target = nodes[150]
    cell = page.locator(f'.lt-node[data-id="{target["id"]}"]')
    assert cell.locator(".lt-label").inner_text() == target["label"]
    assert target["caption"] in cell.get_attribute("title")
    assert len(cell.locator(".lt-sub").inner_text()) < len(target["caption"])

    # A mouse click on the thumbnail reaches Python; the same one again counts again.
    assert "Nothing yet" in _clicked(page)
    click_thumbnail(page, target["id"])
    page.locator(".st-key-clicked", has_text="click 1").wait_for()
    assert f"{target['label']} · {target['id']} · click 1" in _clicked(page)
    tree = page.locator(".lt-scroll")
    scrolled = tree.evaluate("e => [e.scrollTop, e.scrollLeft]")
    draws = int(tree.get_attribute("data-draws"))
    click_thumbnail(page, target["id"])
    page.locator(".st-key-clicked", has_text="click 2").wait_for()
    assert target["id"] in _clicked(page)
    # Python's new drawing (the clicked node outlined) kept the tree where it was.
    page.wait_for_function(f"() => document.querySelector('[data-testid=\"stBidiComponent"
                           f"Isolated\"]').shadowRoot.querySelector('.lt-scroll')"
                           f".dataset.draws > {draws}")
    assert tree.evaluate("e => [e.scrollTop, e.scrollLeft]") == scrolled
    assert page.locator(".lt-node.lt-selected").get_attribute("data-id") == target["id"]

    # Another rerun of the page does not report the click again.
    page.get_by_role("button", name="Rerun the page").click()
    page.wait_for_timeout(1500)
    assert "click 2" in _clicked(page)

    other = nodes[3]
    click_thumbnail(page, other["id"])
    page.locator(".st-key-clicked", has_text="click 3").wait_for()
    assert other["id"] in _clicked(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    guard.assert_offline()


def test_turns_can_run_to_the_right(demo_url, offline_page):
    page, guard = offline_page
    page.goto(f"{demo_url}/?n=25&direction=right")
    page.wait_for_function(ALL_DRAWN, arg=25)
    spots = page.locator(".lt-node").evaluate_all(
        "cells => Object.fromEntries(cells.map(c => [c.dataset.id, [c.offsetLeft, c.offsetTop]]))")
    nodes = synthetic_nodes(25)
    for n in nodes:
        if n["parent_id"]:
            (px, py), (x, y) = spots[n["parent_id"]], spots[n["id"]]
            assert x > px, "a turn is drawn right of the image it edits"
            assert y >= py, "a branch is drawn on its own line below"
    straight = _tree(page, "return [...root.querySelectorAll('path.lt-edge')]"
                           ".filter(e => e.getAttribute('d').includes('H')).length")
    assert straight == 25 - 1 - 2  # all but the two forks from the upload
    guard.assert_offline()
