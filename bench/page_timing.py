"""Timing a Streamlit page with a lineage tree in real headless Chromium: what
bench.lineage_page (the tree on its demo page) and bench.app_lineage (the app's page)
share. Nothing is fetched from outside the machine: every other request is refused and
listed (the run fails if there is one)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Every thumbnail of the tree is decoded (the component draws in a shadow root).
ALL_DRAWN = """n => {
  const hosts = document.querySelectorAll('[data-testid="stBidiComponentIsolated"]');
  for (const h of hosts) {
    const root = h.shadowRoot;
    const box = root && root.querySelector('.lt-scroll[data-ready="1"]');
    if (!box) continue;
    const imgs = root.querySelectorAll('.lt-node img');
    return imgs.length === n && [...imgs].every(i => i.complete && i.naturalWidth > 0);
  }
  return false;
}"""


def click_thumbnail(page, node_id: str) -> None:
    """Scroll the node into view inside the tree and click the middle of its picture
    with the mouse, as a person does."""
    img = page.locator(f'.lt-node[data-id="{node_id}"] img')
    img.evaluate("e => e.scrollIntoView({block: 'center', inline: 'center'})")
    box = img.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def load_and_click(context, url: str, nodes: int, node_id: str, shell: Callable,
                   answer: Callable) -> tuple[float, float, float]:
    """Seconds from navigation until the page's shell is on screen (`shell(page)` returns),
    until all `nodes` thumbnails are drawn, and from a real click on `node_id`'s thumbnail
    until the page answers: `answer(page)`, called before the click, returns the wait."""
    page = context.new_page()
    page.set_default_timeout(120_000)
    started = time.monotonic()
    page.goto(url)
    shell(page)
    shell_s = time.monotonic() - started
    page.wait_for_function(ALL_DRAWN, arg=nodes)
    drawn = time.monotonic() - started
    wait = answer(page)
    started = time.monotonic()
    click_thumbnail(page, node_id)
    wait()
    clicked = time.monotonic() - started
    page.close()
    return shell_s, drawn, clicked


def timed_runs(pw, runs: int, click: str, *page: object) -> tuple[float, ...]:
    """Open the page runs + 1 times, each in a fresh offline browser context; the first
    warms the server and is printed but not counted. `page`: load_and_click's arguments
    after the context. Prints each run (the click's time named `click`), returns the
    medians of (shell, drawn, click)."""
    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from offline import CHROMIUM, FLAGS, offline

    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    timed = []
    for i in range(runs + 1):
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      service_workers="block")
        with offline(context):
            shell, drawn, clicked = load_and_click(context, *page)
        context.close()
        name = "warm-up (first page of the server)" if i == 0 else f"run {i}"
        print(f"{name}: shell {shell:.2f} s, drawn {drawn:.2f} s, {click} {clicked:.2f} s, "
              f"ready {drawn + clicked:.2f} s")
        if i:
            timed.append((shell, drawn, clicked))
    browser.close()
    return tuple(statistics.median(r[k] for r in timed) for k in range(3))
