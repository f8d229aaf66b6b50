"""Going back by words: navigation phrasings over fixed scripted lineages with branches.

Each case is a message as people write it, the version the head is on, and where the
head must land: a version's label, "ask" (the reply names the candidates and asks) or
"none" (nothing matches: the reply says so, nothing moves). The lineages are built in a
real store (a temporary SQLite database) with the instructions, captions, focus words
and edit requests the agent stores; the cases run through the same reading
(agent.reading.intents.parse_intent) and resolution (agent.lineage.navigation.navigate) as the chat.
A few controls (edits and questions that mention "back", "before", "version") must not
be read as navigation.

    python -m bench.navigation [--verbose] [--json FILE] [--sets existing,dev,dev2,heldout]

Then the same cases and the language sets of bench/language/ are sent through the chat
(bench/navigation_chat.py): right / asked / declined / WRONG per set and the time per
message. The held-out set is printed as totals only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.navigation_cases import (  # noqa: F401 - the cases and builders, used by tests
    CASES,
    CONTROLS,
    PARK,
    SHAPES,
    Lineage,
    build,
    groups,
)


def run(verbose: bool = False) -> dict:
    from agent.lineage.navigation import navigate
    from agent.reading.intents import parse_intent
    from agent.reading.references import Nav
    from storage import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(data_dir=Path(tmp) / "data")
        try:
            built = {"park": build(store, PARK), "shapes": build(store, SHAPES)}
            data = {name: (store.nodes(b.cid), groups(store, b.cid)) for name, b in built.items()}
        finally:
            store.close()
    failures, t0 = [], time.perf_counter()
    for name, head, text, want, then in CASES:
        b = built[name]
        nodes, grp = data[name]
        label_of = {v: k for k, v in b.ids.items()}
        intent = parse_intent(text, 0, has_image=True)
        if intent.kind not in ("undo", "redo", "goto", "branch"):
            failures.append((name, head, text, want, f"read as {intent.kind}"))
            continue
        out = navigate(Nav(intent.kind, intent.target, intent.count, whole=intent.whole), nodes,
                       b.ids[head], grp)
        got = label_of[out.node.id] if out.node is not None else out.kind
        if got != want or (then or "") != intent.then:
            extra = f" then {intent.then!r}" if intent.then or then else ""
            failures.append((name, head, text, want, f"{got}{extra} ({intent.target})"))
        elif verbose and out.kind == "ask":
            print(f"[ask] {text!r}:\n{out.text}\n")
    elapsed = time.perf_counter() - t0
    control_fail = []
    for text, kinds in CONTROLS:
        kind = parse_intent(text, 0, has_image=True).kind
        if kind not in kinds:
            control_fail.append((text, sorted(kinds), kind))
    n = len(CASES)
    return {"cases": n, "passed": n - len(failures), "accuracy": (n - len(failures)) / n,
            "failures": failures, "controls": len(CONTROLS),
            "controls_passed": len(CONTROLS) - len(control_fail), "control_failures": control_fail,
            "ms_per_case": 1000 * elapsed / n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.navigation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--verbose", action="store_true", help="print the questions asked too")
    p.add_argument("--json", help="write the figures to this JSON file")
    p.add_argument("--sets", default="existing,dev,heldout",
                   help="the sets sent through the chat (comma-separated; '' for none): existing, "
                        "dev, dev2 (or one half of it: dev2-even, dev2-odd), heldout")
    args = p.parse_args(argv)
    r = run(args.verbose)
    for name, head, text, want, got in r["failures"]:
        print(f"MISS [{name} @{head}] {text!r}: want {want}, got {got}")
    for text, want, got in r["control_failures"]:
        print(f"CONTROL {text!r}: want {'/'.join(want)}, got {got}")
    print(f"navigation phrasings: {r['passed']}/{r['cases']} = {100 * r['accuracy']:.1f} % "
          f"landed where they must ({r['ms_per_case']:.2f} ms each); controls not read as "
          f"navigation: {r['controls_passed']}/{r['controls']}")
    tallies = chat_sets(args.sets, args.verbose)
    if args.json:
        r["chat"] = [t.as_dict() for t in tallies]
        Path(args.json).write_text(json.dumps(r, indent=2, default=str))
    return 0


def chat_sets(names: str, verbose: bool) -> list:
    """The navigation sets through the chat, one line each."""
    from bench import navigation_chat as nc

    runs = {"existing": nc.run_existing,
            "dev": lambda: nc.run_language_set("navigation_dev.yaml"),
            "dev2": lambda: nc.run_language_set("navigation_dev2.yaml"),
            "dev2-even": lambda: nc.run_language_set("navigation_dev2.yaml", which="even"),
            "dev2-odd": lambda: nc.run_language_set("navigation_dev2.yaml", which="odd"),
            "heldout": lambda: nc.run_language_set("navigation_heldout.yaml")}
    from bench.planner_chat import run_sets

    return run_sets(runs, names, "\nthrough the chat (right: as the case expects; asked: a "
                    "question back, nothing moved; declined: nothing moved, no question; WRONG: "
                    "a move or an edit not asked for):", verbose)


if __name__ == "__main__":
    sys.exit(main())
