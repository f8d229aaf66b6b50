"""How often the planner's target prompt says what ordinary requests ask for.

bench/planner_cases.yaml lists requests on three captions (a portrait, a landscape, a
product shot), each with the words its final target prompt must and must not contain.

    python -m bench.planner [--planner offline] [--verbose] [--sets existing,dev,dev2,heldout,hostile]

Prints each failure and the pass rate of the planner alone, then the language sets of
bench/language/ sent through the chat (bench/planner_chat.py): right / asked / declined /
WRONG per set and the time per message. The held-out set is printed as totals only. No
model is loaded; an LLM planner (--planner openai|anthropic|ollama, configured as for the
app) can be compared on the same cases.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

CASES = Path(__file__).resolve().parent / "planner_cases.yaml"


@dataclass
class Outcome:
    caption: str
    request: str
    prompt: str
    kind: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def load_cases(path: Path = CASES) -> tuple[dict[str, str], list[dict]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["captions"], data["cases"]


def says(text: str, phrase: str) -> bool:
    """Whole words, case-insensitive ('rain' is not in 'raindrops')."""
    return re.search(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])", text.lower()) is not None


def check(planner, caption: str, case: dict) -> Outcome:
    try:
        result = planner.plan(case["request"], caption)
    except Exception as exc:  # noqa: BLE001 - a crash is a failed case, reported as such
        return Outcome(caption, case["request"], "", "", [f"raised {type(exc).__name__}: {exc}"])
    prompt = result.plan.final_prompt
    kinds = {s.kind for s in result.plan.steps}
    problems = [f"lacks {w!r}" for w in case.get("must", []) if not says(prompt, w)]
    problems += [f"has {w!r}" for w in case.get("must_not", []) if says(prompt, w)]
    if case.get("kind") and case["kind"] not in kinds:
        problems.append(f"no step of kind {case['kind']!r}")
    return Outcome(caption, case["request"], prompt, "+".join(sorted(kinds)), problems)


def run(planner=None, path: Path = CASES) -> list[Outcome]:
    from agent.planning.offline import OfflinePlanner

    planner = planner or OfflinePlanner()
    captions, cases = load_cases(path)
    return [check(planner, captions[c["caption"]], c) for c in cases]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.planner", description=__doc__.split("\n")[0])
    ap.add_argument("--planner", default="offline",
                    help="offline | openai | anthropic | ollama (LLM settings from MTEDIT_*)")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print every case, and the dev sets' misses through the chat")
    ap.add_argument("--sets", default="existing,dev,heldout,hostile",
                    help="the sets sent through the chat (comma-separated; '' for none): existing, "
                         "dev, dev2 (or one half of it: dev2-even, dev2-odd), heldout, hostile")
    args = ap.parse_args(argv)
    planner = None
    if args.planner != "offline":
        from agent.planning.llm import LLMPlanner
        from mtedit.settings import Settings

        planner = LLMPlanner.from_settings(Settings.from_env(planner=args.planner))
    from agent.planning.offline import OfflinePlanner

    planner = planner or OfflinePlanner()
    planner.plan("make it warmer", "a dog")  # imports and word lists load once, untimed
    t0 = time.perf_counter()
    outcomes = run(planner)
    secs = time.perf_counter() - t0
    for o in outcomes:
        if args.verbose or not o.ok:
            mark = "ok  " if o.ok else "FAIL"
            print(f"{mark} [{o.caption[:24]}...] {o.request!r} -> {o.prompt!r} ({o.kind})"
                  + (f"\n     {'; '.join(o.problems)}" if o.problems else ""))
    n_ok = sum(o.ok for o in outcomes)
    captions = len({o.caption for o in outcomes})
    print(f"planner {args.planner}: {n_ok}/{len(outcomes)} requests on {captions} captions "
          f"say what was asked ({100 * n_ok / len(outcomes):.1f} %); "
          f"{1000 * secs / len(outcomes):.2f} ms per request")
    chat_sets(args.sets, planner if args.planner != "offline" else None, args.verbose)
    return 0


def chat_sets(names: str, planner, verbose: bool) -> None:
    """The edit sets through the chat, one line each."""
    from bench import planner_chat as pc

    runs = {"existing": lambda: pc.run_planner_cases(planner=planner),
            "dev": lambda: pc.run_edit_set("edits_dev.yaml", planner=planner),
            "dev2": lambda: pc.run_edit_set("edits_dev2.yaml", planner=planner),
            "dev2-even": lambda: pc.run_edit_set("edits_dev2.yaml", planner=planner,
                                                 which="even"),
            "dev2-odd": lambda: pc.run_edit_set("edits_dev2.yaml", planner=planner,
                                                which="odd"),
            "heldout": lambda: pc.run_edit_set("edits_heldout.yaml", planner=planner),
            "hostile": pc.run_hostile_set}
    pc.run_sets(runs, names, "\nthrough the chat (right: as the case expects; asked: a question "
                "back, nothing run; declined: nothing run, no question; WRONG: an action not "
                "asked for):", verbose)


if __name__ == "__main__":
    sys.exit(main())
