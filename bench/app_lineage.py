"""How soon is the real app page usable with a 200-image lineage? Real headless Chromium.

    python -m bench.app_lineage [--nodes 200] [--runs 3]

Fills a fresh data folder with one conversation of --nodes images (an upload and its
edits, a new branch from the upload every 10; every image a different picture, stored
as the app stores them), starts `streamlit run chat_app.py` on the bundled model on a
free loopback port, opens the conversation once to warm the server (its first page loads
the model and makes the thumbnails), then for each run opens it in a fresh browser
context and times:
  shell    from navigation until the chat box is on screen;
  drawn    from navigation until every thumbnail of the lineage tree is decoded;
  click    from a real mouse click on a thumbnail until that image's actions are open;
  ready    drawn + click: the page is drawn and answers a click.
Prints each run and the median, with the machine's load. Nothing is fetched from
outside the machine: every other request is refused and listed (the run fails if any).
(`python -m bench.lineage_page` times the tree alone, on its demo page.)
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fill(data: Path, n: int) -> tuple[str, list[str]]:
    """One conversation of n images; (its id, the node ids oldest first)."""
    from PIL import Image

    from app.lineage_tree.sample import picture
    from storage import Store

    def png(i: int) -> bytes:
        buf = io.BytesIO()
        Image.open(io.BytesIO(picture(i, side=64))).save(buf, "PNG")
        return buf.getvalue()

    with Store.open(data_dir=data) as store:
        conv = store.create_conversation(f"{n} images").id
        node = root = store.add_upload(conv, png(0), "a ball on grass")
        for i in range(1, n):
            parent = root if i % 10 == 0 else node
            node = store.add_edit(parent.id, png(i), None, f"a ball, version {i}",
                                  instruction=f"make version {i} of the ball")
        return conv, [x.id for x in store.nodes(conv)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from bench.page_timing import timed_runs
    from mtedit.settings import BUNDLED_MODEL

    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from test_browser import _serve  # the browser test's server

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        conv, ids = fill(tmp / "data", args.nodes)
        target = ids[min(150, args.nodes - 1)]
        started = time.monotonic()
        server = _serve(tmp, str(BUNDLED_MODEL))
        url, _ = next(server)
        try:
            print(f"server up in {time.monotonic() - started:.1f} s; load: "
                  f"{os.getloadavg()[0]:.2f} (1 min average), {os.cpu_count()} cores, "
                  f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
            shell, drawn, clicked = timed_runs(
                pw, args.runs, "click to actions", f"{url}/?c={conv}", args.nodes, target,
                lambda page: page.get_by_test_id("stChatInputTextArea").wait_for(),
                lambda page: page.get_by_role("dialog").get_by_role(
                    "button", name="Make head").wait_for)
        finally:
            server.close()
    print(f"app page with a {args.nodes}-image lineage, median of {args.runs}: shell "
          f"{shell:.2f} s, drawn {drawn:.2f} s, click to actions {clicked:.2f} s, ready "
          f"{drawn + clicked:.2f} s (target <= 3 s); load now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
