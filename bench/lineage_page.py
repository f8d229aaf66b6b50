"""How soon is a page with a 200-image lineage tree usable? Real headless Chromium.

    python -m bench.lineage_page [--nodes 200] [--runs 3] [--direction down|right]

Starts `streamlit run app/lineage_tree/demo.py` (the tree component over a made-up
lineage, thumbnails drawn with PIL) on a free loopback port, loads the page once to
warm the server, then for each run opens it in a fresh browser context and times:
  shell    from navigation until the page's first text is on screen (Streamlit itself);
  drawn    from navigation until every node's thumbnail is decoded in the tree;
  click    from a real mouse click on a thumbnail until the page (Python) shows its id;
  ready    the two added: the page is drawn and answers a click.
Prints each run and the median. Needs /usr/bin/chromium and playwright (the dev extra).
Nothing is fetched from outside the machine: every other request is refused and
listed (the run fails if there is one).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.page_timing import ALL_DRAWN, click_thumbnail, timed_runs  # noqa: F401 - tests' too

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "app" / "lineage_tree" / "demo.py"

@contextmanager
def serve_demo(log_path: Path) -> Iterator[str]:
    """Run the demo page on a free loopback port; yields its URL."""
    from mtedit.servers import free_port, stop

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(DEMO),
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
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
                        raise RuntimeError(log_path.read_text()[-3000:]) from None
                    time.sleep(0.2)
            yield url
        finally:
            stop(server)


def clicked_answer(node_id: str):
    """The demo page shows the clicked node's id under the tree: the wait for it (checking
    first that it is not there already)."""

    def answer(page):
        assert node_id not in page.locator(".st-key-clicked").inner_text()
        return page.locator(".st-key-clicked", has_text=node_id).wait_for

    return answer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--direction", choices=("down", "right"), default="down")
    args = p.parse_args(argv)

    import tempfile

    from playwright.sync_api import sync_playwright

    target = f"node-{min(150, args.nodes - 1):04d}"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        started = time.monotonic()
        with serve_demo(Path(tmp) / "server.log") as url:
            print(f"server up in {time.monotonic() - started:.1f} s; "
                  f"load: {os.getloadavg()[0]:.2f} (1 min average), {os.cpu_count()} cores")
            shell, drawn, clicked = timed_runs(
                pw, args.runs, "click answered", f"{url}/?n={args.nodes}&direction="
                f"{args.direction}", args.nodes, target,
                lambda page: page.get_by_text("Nothing yet: click a thumbnail.").wait_for(),
                clicked_answer(target))
    print(f"{args.nodes}-image lineage tree ({args.direction}), median of {args.runs}: "
          f"shell {shell:.2f} s, drawn {drawn:.2f} s, click answered {clicked:.2f} s, "
          f"ready {drawn + clicked:.2f} s (target <= 3 s); load now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
