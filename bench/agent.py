"""Figures for the agent: planner and intent speed, toy-world caption agreement, the
agent's own overhead per edit turn (everything in send() except the model), and, with
the bundled toy model, edit success through the chat against the same edits run
directly with the world's own captions.

    python -m bench.agent [--turns 6] [--toy 8 --toy-turns 3]
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

from PIL import Image


def toy_agreement(n: int = 500, seed: int = 0) -> tuple[int, int, float]:
    """Unambiguous random toy-world edits whose planned caption equals the world's caption."""
    from agent.planning.captions import split_items
    from agent.planning.offline import OfflinePlanner
    from toyworld import world

    rng, planner = random.Random(seed), OfflinePlanner()
    norm = lambda c: sorted(re.sub(r"\ban?\b", "a", x) for x in split_items(c)[0])
    ok = total = 0
    t0 = time.perf_counter()
    for _ in range(n):
        edit = world.random_edit(rng, world.random_scene(rng, max_objects=3), max_objects=3)
        pairs = [(o.colour, o.shape) for o in edit.before.objects]
        if len(set(pairs)) < len(pairs):
            continue
        total += 1
        got = planner.plan(edit.instruction, world.caption(edit.before)).plan.final_prompt
        ok += norm(got) == norm(world.caption(edit.after))
    return ok, total, (time.perf_counter() - t0) / max(total, 1)


def intent_speed(reps: int = 200) -> float:
    from agent.reading.intents import parse_intent

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
    from mtedit.settings import Settings
    from storage import Store
    from toyworld import world

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
        scene = world.Scene("green", (world.Obj("circle", "red", "small", 3),))
        buf = io.BytesIO()
        world.render(scene).save(buf, format="PNG")
        session.send(world.caption(scene), files=[("s.png", buf.getvalue())])
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


def toy_chat(scenes: int, turns: int, seed: int = 0, preset: str = "mtc") -> dict:
    """Held-out toy scenes edited by chat (the world's instruction sent as a message) and
    directly (the world's before/after captions): success per path, per the world's reader."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from agent import ChatSession
    from bench import toy as toy_bench
    from editing_core import Anchors, FluxBackend
    from mtedit.settings import BUNDLED_MODEL, Settings
    from storage import Store
    from toyworld import world

    backend = FluxBackend.from_pretrained(BUNDLED_MODEL, device="cpu", dtype="float32")
    sequences = toy_bench.edit_sequences(scenes, turns, seed)
    chat_ok, direct_ok, same_prompt = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(data_dir=Path(tmp))
        session = ChatSession.open(Settings(data_dir=Path(tmp), model=str(BUNDLED_MODEL)),
                                   store=store, backend=backend)
        for i, (scene, edits) in enumerate(sequences):
            session.new_conversation(f"toy {i}")
            session.update_settings(preset=preset, seed=seed)
            buf = io.BytesIO()
            world.render(scene).save(buf, format="PNG")
            session.send(world.caption(scene), files=[("scene.png", buf.getvalue())])
            root = backend.encode_image(world.render(scene))
            prev = root
            for e in edits:
                [reply] = session.send(e.instruction)
                if reply.kind != "edit":
                    chat_ok.append(False)
                else:
                    img = Image.open(io.BytesIO(session.image_bytes(reply.node_ids[-1])))
                    chat_ok.append(world.edit_succeeded(world.detect(img), e))
                    same_prompt.append(reply.plan.final_prompt == world.caption(e.after))
                out = backend.edit(prev, world.caption(e.before), world.caption(e.after),
                                   anchors=Anchors(source=root, previous=prev),
                                   focus_words=e.focus, preset=preset, seed=seed,
                                   output_size=(world.RESOLUTION, world.RESOLUTION))
                prev = out.latent
                direct_ok.append(world.edit_succeeded(world.detect(out.image), e))
        store.close()
    return {"edits": len(chat_ok), "chat": sum(chat_ok) / len(chat_ok),
            "direct": sum(direct_ok) / len(direct_ok),
            "same_prompt": sum(same_prompt) / max(1, len(same_prompt))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=6)
    p.add_argument("--toy", type=int, default=0, metavar="SCENES",
                   help="also edit this many held-out toy scenes through the chat")
    p.add_argument("--toy-turns", type=int, default=3)
    args = p.parse_args(argv)
    ok, total, per = toy_agreement()
    print(f"offline planner, toy-world edits: {ok}/{total} captions identical to the world's "
          f"({100 * ok / total:.1f} %), {1e6 * per:.0f} us per plan")
    print(f"intent parser: {1e6 * intent_speed():.0f} us per message")
    o = overhead(args.turns)
    print(f"edit turn on a tiny FLUX (rf, 1 step, 64 px), median of {o['turns']}: "
          f"{o['wall_s']:.2f} s wall, {o['model_s']:.2f} s in the model, "
          f"{o['agent_ms']:.0f} ms agent + store; messages()+lineage() {o['read_ms']:.1f} ms")
    if args.toy:
        t = toy_chat(args.toy, args.toy_turns)
        print(f"bundled toy model, {t['edits']} chained edits (mtc): success through the chat "
              f"{100 * t['chat']:.0f} %, direct with the world's captions {100 * t['direct']:.0f} %; "
              f"planned caption = world caption in {100 * t['same_prompt']:.0f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
