"""Does the chat's check agree with the benchmark's ground truth? The bundled model, held-out
scenes, one edit each.

    python -m bench.reader_agreement [--scenes 60] [--steps 9] [--preset rf]

Each scene of `mtedit bench toy`'s held-out split gets one edit of the benchmark's
rotation (recolour, reshape, resize, move, add or remove, background), run the way the
app runs a first edit (the preset and steps the model folder recommends). The
benchmark's scorer judges the result against the true edit (`world.edit_succeeded`);
the chat's check judges it from the captions alone (`editing_core.checks.check_result`
with the model's reader, as after every edit in the app). Prints how often they agree,
per verdict and per kind of edit. The two share the detector (`world.detect`) and
nothing else; this script only compares them, nothing retries.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=60)
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--preset", default="rf")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from bench.toy import edit_for_slot, scenes_for, slot_for
    from editing_core import Anchors, FluxBackend
    from editing_core.checks import check_result, model_reader
    from toyworld import MODEL_DIR
    from toyworld import world as W

    backend = FluxBackend.from_pretrained(MODEL_DIR, device="cpu", dtype="float32")
    reader = model_reader(MODEL_DIR)
    table: Counter = Counter()
    by_op: dict[str, Counter] = {}
    started = time.perf_counter()
    for i, scene in enumerate(scenes_for(args.scenes, args.seed)):
        edit = edit_for_slot(random.Random(f"{args.seed}-agree-{i}"), scene, slot_for(i, 0))
        before = W.render(scene)
        latent = backend.encode_image(before)
        out = backend.edit(latent, W.caption(edit.before), W.caption(edit.after),
                           anchors=Anchors(source=latent, previous=None),
                           focus_words=edit.focus, preset=args.preset,
                           overrides={"steps": args.steps}, seed=args.seed,
                           output_size=before.size)
        truth = W.edit_succeeded(W.detect(out.image), edit)
        check = check_result(out.image, W.caption(edit.after), before=before,
                             source_prompt=W.caption(edit.before), reader=reader)
        said = check["verdict"] != "missed"  # hit or changed_more: what was asked is there
        table[(truth, check["verdict"])] += 1
        by_op.setdefault(edit.op, Counter())[truth == said] += 1
    n = sum(table.values())
    agree = sum(v for (truth, verdict), v in table.items() if truth == (verdict != "missed"))
    print(f"bundled model, {n} held-out scenes, one edit each ({args.preset}, {args.steps} "
          f"steps): {time.perf_counter() - started:.0f} s; load "
          f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    for (truth, verdict), v in sorted(table.items()):
        print(f"  ground truth {'right' if truth else 'wrong'}, check says {verdict}: {v}")
    print(f"  the check agrees with the ground truth on {agree} of {n} ({100 * agree / n:.0f} %)")
    for op, c in sorted(by_op.items()):
        print(f"    {op}: {c[True]} of {c[True] + c[False]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
