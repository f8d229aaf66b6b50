"""The chat's reading scored through the real chat path: a ChatSession over a temporary
store, with a flat-image backend so an edit "runs" in milliseconds and leaves its job,
plan and nodes in the store exactly as a real one would.

Every message gets one verdict:
- right: what the case expects happened;
- asked: a question back (a reply of kind "ask"), nothing run, the head where it was;
- declined: nothing run and no question (the chat said it could not, or answered
  something else);
- WRONG: an action the user did not ask for (an edit whose prompt fails the checks, an
  edit or a move where none was asked, a move to another version, a hostile input that
  stored a node, a plan or a job).

bench/planner.py (edit requests) and bench/navigation.py (moves) use it; the held-out
sets are scored as totals only, never case by case.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml

LANGUAGE = Path(__file__).resolve().parent / "language"
VERDICTS = ("right", "asked", "declined", "WRONG")


def png(size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (120, 120, 120)).save(buf, format="PNG")
    return buf.getvalue()


class FlatBackend:
    """Answers edits like FluxBackend with flat images (no model): the job, its plan and
    its nodes are stored as a real edit's would be."""

    model_id = "bench-flat"

    def encode_image(self, img, max_side=None):
        import torch

        return torch.zeros(1, 4, 2, 2)

    def edit(self, latent, source_prompt, target_prompt, *, seed=0, progress=None,
             cancel=None, **kw):
        import torch
        from PIL import Image

        if progress is not None:
            progress(1, 1, "sample")
        return SimpleNamespace(image=Image.new("RGB", (8, 8), (90, 90, 90)),
                               latent=torch.zeros(1, 4, 2, 2), params={"steps": 1}, seed=seed,
                               timings={"edit": 0.0}, nfe=1)

    generate = edit


@contextmanager
def chat_over_temp_store(planner=None):
    """A ChatSession on a fresh SQLite store in a temporary folder, edits run by
    FlatBackend on an in-process executor."""
    from agent import ChatSession
    from agent.jobs.executor import Executor
    from mtedit.settings import Settings
    from storage import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(data_dir=Path(tmp) / "data")
        settings = Settings(data_dir=store.data_dir, max_side=64, region="none")  # flat images: no regions
        backend = FlatBackend()
        executor = Executor(store, backend, settings=settings)
        chat = ChatSession.open(settings, store=store, backend=backend, executor=executor,
                                planner=planner)
        try:
            yield chat
        finally:
            store.close()


@dataclass
class Tally:
    """Verdicts of one set, and the seconds each message took."""

    name: str
    verdicts: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # only for sets that may be read
    groups: dict[str, Counter] = field(default_factory=dict)  # the verdicts per kind of case

    def add(self, verdict: str, secs: float, miss: str | None = None, group: str = "") -> None:
        self.verdicts[verdict] += 1
        self.seconds.append(secs)
        if group:
            self.groups.setdefault(group, Counter())[verdict] += 1
        if miss is not None and verdict != "right":
            self.misses.append(f"{verdict}: {miss}")

    @property
    def n(self) -> int:
        return sum(self.verdicts.values())

    def share(self, verdict: str) -> float:
        return self.verdicts[verdict] / self.n if self.n else 0.0

    def line(self) -> str:
        cells = "  ".join(f"{v} {self.verdicts[v]:>3} ({100 * self.share(v):5.1f} %)"
                          for v in VERDICTS)
        ms = 1000 * sum(self.seconds) / max(1, len(self.seconds))
        line = f"{self.name:<30} n {self.n:>3}  {cells}  {ms:6.1f} ms/message"
        if len(self.groups) > 1:
            line += "\n" + " " * 32 + "  ".join(
                f"{g}: right {c['right']}/{sum(c.values())} "
                f"({100 * c['right'] / max(1, sum(c.values())):.1f} %), asked {c['asked']}, "
                f"WRONG {c['WRONG']}"
                for g, c in sorted(self.groups.items()))
        return line

    def as_dict(self) -> dict:
        return {"name": self.name, "n": self.n, **{v: self.verdicts[v] for v in VERDICTS},
                "ms_per_message": 1000 * sum(self.seconds) / max(1, len(self.seconds)),
                "groups": {g: dict(c) for g, c in self.groups.items()}}


def run_sets(runs: dict, names: str, heading: str, verbose: bool) -> list[Tally]:
    """Run the sets named in `names` (comma-separated keys of `runs`) and print, after
    `heading`, one line each (and, if verbose, each miss); their tallies."""
    tallies = [runs[n.strip()]() for n in names.split(",") if n.strip()]
    if tallies:
        print(heading)
    for t in tallies:
        print(t.line())
        if verbose:
            for miss in t.misses:
                print(f"    {miss}")
    return tallies


def says(text: str, phrase: str) -> bool:
    """Whole words, case-insensitive ('rain' is not in 'raindrops')."""
    return re.search(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])", text.lower()) is not None


def load(name: str) -> dict:
    return yaml.safe_load((LANGUAGE / name).read_text(encoding="utf-8"))


# -- what a message did ----------------------------------------------------------------


@dataclass
class Effect:
    """What one message changed in the store."""

    replies: list
    head_before: str | None
    head_after: str | None
    new_nodes: list  # node records made by the message
    jobs: list  # edit / generate jobs the message submitted (records)
    secs: float
    crashed: str = ""

    @property
    def kinds(self) -> list[str]:
        return [r.kind for r in self.replies]

    @property
    def asked(self) -> bool:
        return any(k == "ask" for k in self.kinds)

    @property
    def ran(self) -> bool:
        return bool(self.jobs or self.new_nodes)

    @property
    def moved(self) -> bool:
        return any(k == "rollback" for k in self.kinds)

    def final_steps(self) -> list[dict]:
        steps = []
        for job in self.jobs:
            steps += list(job.request.get("steps") or [])
        return steps


def send(chat, text: str) -> Effect:
    """Send one message (wait=True) and note what it changed."""
    from agent.jobs.spec import is_claim

    store, cid = chat.store, chat.conversation_id
    head = store.head(cid)
    before_nodes = {n.id for n in store.nodes(cid)}
    before_jobs = {j.id for j in store.list_jobs(cid)}
    t0 = time.perf_counter()
    crashed = ""
    try:
        replies = chat.send(text, wait=True)
    except Exception as exc:  # noqa: BLE001 - a crash is a verdict, not the end of the run
        replies, crashed = [], f"{type(exc).__name__}: {exc}"
    secs = time.perf_counter() - t0
    after = store.head(cid)
    new_nodes = [n for n in store.nodes(cid) if n.id not in before_nodes]
    jobs = [j for j in reversed(store.list_jobs(cid))
            if j.id not in before_jobs and not is_claim(j)]
    return Effect(replies, head.id if head else None, after.id if after else None, new_nodes,
                  jobs, secs, crashed)


# -- edit sets -------------------------------------------------------------------------


def edit_verdict(effect: Effect, case: dict) -> tuple[str, str]:
    """(verdict, why) of an edit-set case (bench/language/README.md)."""
    expect = case.get("expect", "edit")
    if effect.crashed:
        return "WRONG", f"crashed: {effect.crashed}"
    if expect in ("ask", "refuse"):
        if effect.ran or effect.moved:
            return "WRONG", f"ran {_prompt(effect)!r}" if effect.ran else "moved the head"
        said = " / ".join(r.text.splitlines()[0][:90] for r in effect.replies if r.text)
        if expect == "ask":
            return ("right", "") if effect.asked else ("declined", said)
        return ("asked", said) if effect.asked else ("right", "")
    if effect.moved and not effect.ran:
        return "WRONG", "moved the head"
    if not effect.ran:
        said = " / ".join(r.text.splitlines()[0][:90] for r in effect.replies if r.text)
        return ("asked" if effect.asked else "declined"), said
    prompt = _prompt(effect)
    problems = [f"lacks {w!r}" for w in case.get("must", []) if not says(prompt, w)]
    problems += [f"has {w!r}" for w in case.get("must_not", []) if says(prompt, w)]
    kinds = {s.get("kind", "edit") for s in effect.final_steps()}
    if case.get("kind") and case["kind"] not in kinds:
        problems.append(f"no step of kind {case['kind']!r}")
    if problems:
        return "WRONG", f"{prompt!r}: {'; '.join(problems)}"
    skipped = [r for r in effect.replies if re.search(r"\bdid not do\b|\bleft out\b", r.text or "")]
    if skipped:
        return "declined", "a part was not done"
    return "right", prompt


def _prompt(effect: Effect) -> str:
    steps = effect.final_steps()
    return steps[-1].get("target_prompt", "") if steps else ""


def run_edit_cases(name: str, captions: dict, cases: list[dict], *, planner=None,
                   keep_misses: bool = True) -> Tally:
    """Each case in its own conversation: an upload with the case's caption is the head,
    then the request is sent."""
    tally = Tally(name)
    with chat_over_temp_store(planner) as chat:
        chat.send("hello")  # imports and word lists load once, untimed
        image = png()
        for case in cases:
            cid = chat.new_conversation("bench")
            chat.store.add_upload(cid, image, captions[case["caption"]])
            effect = send(chat, case["request"])
            verdict, why = edit_verdict(effect, case)
            tally.add(verdict, effect.secs,
                      f"[{case['caption']}] {case['request']!r} -> {why}" if keep_misses else None,
                      group=case.get("expect", "edit"))
    return tally


def half(cases: list, which: str | None) -> list:
    """A fixed split of a set for checking generalisation while tuning: "even" keeps the
    cases at even positions (0, 2, ...), "odd" the others, None all of them."""
    if which is None:
        return cases
    return cases[{"even": 0, "odd": 1}[which]::2]


def run_edit_set(file: str, *, planner=None, which: str | None = None) -> Tally:
    data = load(file)
    name = file.removesuffix(".yaml") + (f" ({which} half)" if which else "")
    return run_edit_cases(name, data["captions"], half(data["cases"], which),
                          planner=planner, keep_misses="heldout" not in file)


def run_planner_cases(*, planner=None) -> Tally:
    """bench/planner_cases.yaml through the chat (every case expects an edit)."""
    data = yaml.safe_load((LANGUAGE.parent / "planner_cases.yaml").read_text(encoding="utf-8"))
    captions, cases = data["captions"], data["cases"]
    return run_edit_cases("planner_cases (existing)", captions, cases, planner=planner)


# -- hostile inputs --------------------------------------------------------------------


def hostile_text(entry: dict) -> str:
    text = entry["text"]
    if isinstance(text, dict):
        return text["repeat"] * text["times"]
    return text


_CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Exception)\b|Traceback")


def run_hostile(texts: list[str], name: str, *, keep_misses: bool = False) -> Tally:
    """Each input on a conversation with an image: right = a refusal in plain words with
    no node, plan or job stored; asked = a question back, nothing stored."""
    tally = Tally(name)
    with chat_over_temp_store() as chat:
        chat.send("hello")
        image = png()
        for text in texts:
            cid = chat.new_conversation("bench")
            chat.store.add_upload(cid, image, "a photo of a dog on a beach")
            counts = chat.store.counts()
            effect = send(chat, text)
            after = chat.store.counts()
            stored = {k: after[k] - counts[k] for k in ("image_nodes", "plans", "jobs")
                      if k in after and after[k] != counts[k]}
            plain = all(r.text and not _CLASS_NAME.search(r.text) for r in effect.replies)
            if effect.crashed or stored or effect.moved or not effect.replies or not plain:
                why = effect.crashed or (f"stored {stored}" if stored else "moved or no reply")
                tally.add("WRONG", effect.secs, f"{text[:60]!r}: {why}" if keep_misses else None)
            elif effect.asked:  # a question back stores nothing either, but is no refusal
                tally.add("asked", effect.secs, f"{text[:60]!r}" if keep_misses else None)
            else:
                tally.add("right", effect.secs)
    return tally


def run_hostile_set() -> Tally:
    return run_hostile([hostile_text(e) for e in load("hostile.yaml")["inputs"]],
                       "hostile (40 inputs)")
