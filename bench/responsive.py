"""Is the page usable while an edit runs? Real headless Chromium against `streamlit run`.

    python -m bench.responsive [--model bundled|tiny-large] [--side 512] [--threads N] [--steps 60]

Starts the app on a free port, uploads an image, starts a long edit, and while it runs
measures (1) a fresh page load until the chat box and the lineage are on screen and
(2) sending "show the history" until its answer is on screen; then the edit's own
time. Needs /usr/bin/chromium and playwright (the dev extra). `tiny-large` is the
tests' tiny random FLUX told it was trained at --side px, editing a --side square image
(512: 1,024 tokens per model call); `bundled` is the shipped model at its 64 px grid.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _image(side: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (side, side), (60, 160, 70))
    ImageDraw.Draw(img).ellipse((side // 4, side // 4, side // 2, side // 2), fill=(210, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("bundled", "tiny-large"), default="bundled")
    p.add_argument("--threads", type=int, help="MTEDIT_THREADS for the app (default: its own)")
    p.add_argument("--steps", type=int, default=60, help="solver steps of the long edit")
    p.add_argument("--side", type=int, default=512, help="image side for tiny-large")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from offline import CHROMIUM, FLAGS, OfflineGuard
    from playwright.sync_api import sync_playwright
    from test_browser import _send, _serve  # the browser test's helpers

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        extra = {}
        if args.threads:
            extra["MTEDIT_THREADS"] = str(args.threads)
        if args.model == "bundled":
            from mtedit.settings import BUNDLED_MODEL

            model, side, caption = str(BUNDLED_MODEL), 64, (
                "a small red circle on the left and a large blue square on the right, "
                "on a green background")
            request = "make the circle blue"
        else:
            from editing_core.testing import build_tiny_flux

            model = str(build_tiny_flux(tmp / "model", sample_size=args.side))
            side, caption, request = args.side, "a red ball on green grass", "make the ball blue"
        server = _serve(tmp, model, **extra)
        url, _ = next(server)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
                context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                              service_workers="block")
                guard = OfflineGuard()  # nothing may come from outside the machine
                guard.install(context)
                page = context.new_page()
                page.set_default_timeout(300_000)
                page.goto(url)
                page.get_by_test_id("stChatInputTextArea").wait_for()
                _send(page, caption, [("scene.png", _image(side))])
                page.locator(".lt-node[data-id]").first.wait_for()
                _send(page, f"use {args.steps} steps")
                page.get_by_text("From now on").first.wait_for()
                started = time.monotonic()
                _send(page, request)
                page.locator('[class*="st-key-cancel-"]').wait_for()
                page.get_by_text(" s left").first.wait_for()  # the model is running
                other = context.new_page()
                other.set_default_timeout(300_000)
                t0 = time.monotonic()
                other.goto(url)
                other.get_by_test_id("stChatInputTextArea").wait_for()
                other.locator(".lt-node[data-id]").first.wait_for()
                load_s = time.monotonic() - t0
                t0 = time.monotonic()
                _send(other, "show the history")
                other.get_by_text("History").first.wait_for()
                send_s = time.monotonic() - t0
                running = other.locator('[class*="st-key-cancel-"]').count() > 0
                page.locator('[class*="st-key-cancel-"]').wait_for(state="detached")
                edit_s = time.monotonic() - started
                done = page.get_by_text(re.compile(r"^(Done|Missed):")).last.inner_text()
                guard.assert_offline()
                browser.close()
        finally:
            server.close()
    print(f"model {args.model} ({side} px), MTEDIT_THREADS={args.threads or 'default'}, "
          f"cores {os.cpu_count()}, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"  while the edit ran: page load {load_s:.1f} s; \"show the history\" answered in "
          f"{send_s:.1f} s (edit still running then: {running})")
    print(f"  the edit ({args.steps} steps): {edit_s:.1f} s from sending; app says: {done}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
