"""A new user's first edit: a 12-megapixel photo and "make it more vintage" (2 steps)
through ChatSession on the bundled model, at its own grid. Prints seconds per stage.

    python -m bench.first_edit [--width 4000 --height 3000] [--threads N] [--repeat 2]

The upload is stored at full size; the edit runs on the model's grid (64 px for the
bundled model) and each result is scaled back to the upload's size. The first edit of
a process also measures the seconds per model call that later estimates use; with
--repeat 2 a second conversation shows the estimate against the time it took.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path


def photo(width: int, height: int) -> bytes:
    """A JPEG with the detail of a photo (smooth light and noise), width x height."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / 317.0), 110 + 80 * np.cos(y / 211.0),
                     120 + 60 * np.sin((x + y) / 503.0)], axis=-1)
    img = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--threads", type=int, help="torch threads (default: the app's, MTEDIT_THREADS)")
    p.add_argument("--repeat", type=int, default=1, help="conversations to run, one after another")
    p.add_argument("--request", default="make it more vintage")
    args = p.parse_args(argv)

    from agent import ChatSession
    from mtedit.settings import BUNDLED_MODEL, Settings

    jpeg = photo(args.width, args.height)
    print(f"photo: {args.width}x{args.height} ({args.width * args.height / 1e6:.1f} MP), "
          f"JPEG {len(jpeg) / 2**20:.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), model=str(BUNDLED_MODEL), device="cpu",
                            threads=args.threads)
        t0 = time.perf_counter()
        chat = ChatSession.open(settings)
        backend = chat.executor.backend()
        import torch

        from agent.jobs.timing import configure_threads

        threads = configure_threads(settings.threads)
        print(f"model: bundled, grid {backend.max_side} px, loaded in "
              f"{time.perf_counter() - t0:.1f} s; torch threads {threads} "
              f"(cores {os.cpu_count()}, torch sees {torch.get_num_threads()}); "
              f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for run in range(args.repeat):
            chat.new_conversation(f"first edit {run + 1}")
            t0 = time.perf_counter()
            replies = chat.send("a photo of a street at dusk", files=[("photo.jpg", jpeg)])
            t_upload = time.perf_counter() - t0
            assert replies[-1].kind == "upload", replies[-1].text
            t0 = time.perf_counter()
            queued = chat.send(args.request, wait=False)[-1]
            assert queued.kind == "queued", queued.text
            estimate = chat.job(queued.job_id).estimate_s
            view = chat.wait(queued.job_id)
            t_edit = time.perf_counter() - t0
            assert view.status == "done", view.error
            nodes = chat.lineage()
            out = nodes[-1]
            said = "measuring" if estimate is None else f"{estimate:.1f} s"
            print(f"run {run + 1}: upload {t_upload:.1f} s; \"{args.request}\": "
                  f"{view.steps} steps, {view.total} model calls, {t_edit:.1f} s "
                  f"(estimate said: {said}); result {out.width}x{out.height}")
            print("  plan reply: " + queued.text.splitlines()[-1])
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
