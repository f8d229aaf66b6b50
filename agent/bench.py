"""Figures for the agent: planner and intent speed, toy-world caption agreement, and the
agent's own overhead per edit turn (everything in send() except the model).

    python -m agent.bench [--turns 6]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path


def toy_agreement(n: int = 500, seed: int = 0) -> tuple[int, int, float]:
    """Unambiguous random toy-world edits whose planned caption equals the world's caption."""
    from agent.captions import split_items
    from agent.offline import OfflinePlanner
    from editing_core.toy import world as W

    rng, planner = random.Random(seed), OfflinePlanner()
    norm = lambda c: sorted(re.sub(r"\ban?\b", "a", x) for x in split_items(c)[0])
    ok = total = 0
    t0 = time.perf_counter()
    for _ in range(n):
        edit = W.random_edit(rng, W.random_scene(rng, max_objects=3), max_objects=3)
        pairs = [(o.colour, o.shape) for o in edit.before.objects]
        if len(set(pairs)) < len(pairs):
            continue
        total += 1
        got = planner.plan(edit.instruction, W.caption(edit.before)).plan.final_prompt
        ok += norm(got) == norm(W.caption(edit.after))
    return ok, total, (time.perf_counter() - t0) / max(total, 1)


def intent_speed(reps: int = 200) -> float:
    from agent.intents import parse_intent

    texts = ["make it more vintage", "go back to before the hat", "use 15 steps",
             "switch to the branch with the scarf", "what is the caption?", "undo",
             "no, go back to before the hat and try a red scarf"]
    t0 = time.perf_counter()
    for _ in range(reps):
        for t in texts:
            parse_intent(t, 0, True)
    return (time.perf_counter() - t0) / (reps * len(texts))


def overhead(turns: int) -> dict:
    """Wall time of send() for edits, split into the model's share and the agent's."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from agent import ChatSession
    from editing_core import FluxBackend
    from editing_core.testing import tiny_random_folder
    from editing_core.toy import world as W
    from mtedit.settings import Settings
    from storage import Store

    model = tiny_random_folder()
    backend = FluxBackend.from_pretrained(model, device="cpu", dtype="float32", max_side=64)
    spent = {"model": 0.0}
    edit = backend.edit

    def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return edit(*a, **kw)
        finally:
            spent["model"] += time.perf_counter() - t

    backend.edit = timed
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(data_dir=Path(tmp))
        session = ChatSession.open(Settings(data_dir=Path(tmp), model=str(model), max_side=64),
                                   store=store, backend=backend)
        session.update_settings(preset="rf", steps=1)
        scene = W.Scene("green", (W.Obj("circle", "red", "small", 3),))
        buf = io.BytesIO()
        W.render(scene).save(buf, format="PNG")
        session.send(W.caption(scene), files=[("s.png", buf.getvalue())])
        session.send("make the circle blue")  # warm-up: encodes the upload
        walls, models = [], []
        colours = ["red", "yellow", "white", "purple", "orange", "black", "blue"]
        for i in range(turns):
            spent["model"] = 0.0
            t = time.perf_counter()
            [reply] = session.send(f"make the circle {colours[i % len(colours)]}")
            walls.append(time.perf_counter() - t)
            models.append(spent["model"])
            assert reply.kind == "edit", reply.text
        t = time.perf_counter()
        for _ in range(20):
            session.messages()
            session.lineage()
        reads = (time.perf_counter() - t) / 20
        store.close()
    agent_ms = [1000 * (w - m) for w, m in zip(walls, models, strict=True)]
    return {"turns": turns, "wall_s": statistics.median(walls),
            "model_s": statistics.median(models), "agent_ms": statistics.median(agent_ms),
            "read_ms": 1000 * reads}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=6)
    args = p.parse_args(argv)
    ok, total, per = toy_agreement()
    print(f"offline planner, toy-world edits: {ok}/{total} captions identical to the world's "
          f"({100 * ok / total:.1f} %), {1e6 * per:.0f} us per plan")
    print(f"intent parser: {1e6 * intent_speed():.0f} us per message")
    o = overhead(args.turns)
    print(f"edit turn on a tiny FLUX (rf, 1 step, 64 px), median of {o['turns']}: "
          f"{o['wall_s']:.2f} s wall, {o['model_s']:.2f} s in the model, "
          f"{o['agent_ms']:.0f} ms agent + store; messages()+lineage() {o['read_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
