"""Running one job: plain functions of (store, backend, spec, progress), like the solvers.

A job is a plan: step k edits the node made by step k-1, with anchors (the lineage's
root latent, that node's latent). Each finished step is a complete node (image and
latent, one transaction) stored under its step key, so a step run again returns the
node it made; a failure or a cancel keeps the finished steps and stores nothing of the
failing one. Whoever runs the job (the in-process executor, a queue worker) hands in
`progress`: where the job is told to stop and where it says how far it got.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable
from typing import Protocol

from PIL import Image

from agent import ops
from agent.jobs import checking, damage, regions, timing
from agent.jobs.job_text import NOT_RUN
from agent.jobs.recovery import stored_result
from agent.jobs.spec import JobSpec
from editing_core.images import png_bytes


class Progress(Protocol):
    """What a running job reports to, and asks, its runner."""

    job_id: str
    step: int  # the plan step running (1-based)
    stage: str  # "load", "encode", "invert", "sample", "save", "op"
    tokens: int | None  # image tokens per model call, once known

    def cancelled(self) -> bool: ...

    def calls(self, step: int, steps: int) -> Callable[[int, int, str], None]:
        """The editing core's progress callback for 0-based step `step` of `steps`."""

    def made(self, node_id: str) -> None:
        """A step's node is stored."""


def run_job(store, backend, spec: JobSpec, progress: Progress,
            previous: tuple[str, tuple[str, ...]] | None = None) -> None:
    """Run the job to its end; EditCancelled or an error stops it between model calls.
    previous: see start_node."""
    if spec.kind == "generate":
        generate(store, backend, spec, progress)
    else:
        edit(store, backend, spec, progress, start_node(store, spec, previous))


def start_node(store, spec: JobSpec, previous: tuple[str, tuple[str, ...]] | None = None):
    """The node an edit job starts from: its base, or the last node of the job it is queued
    behind (ValueError NOT_RUN when that one did not finish). previous: (status, node ids)
    of that job when the caller knows them first-hand; else the store says."""
    if spec.after_job:
        status, made = previous or stored_result(store, spec.after_job)
        if status != "done" or not made:
            raise ValueError(NOT_RUN)
        spec.base_node_id = made[-1]
    return store.get_node(spec.base_node_id)


def edit(store, backend, spec: JobSpec, progress: Progress, start) -> None:
    """The plan's steps from the node `start`, each a child of the one before."""
    from editing_core import Anchors, EditCancelled, latent_to_bytes, resolve_params
    from editing_core.presets import strength_overrides

    cur = start
    if problem := damage.image_problem(store, cur):  # never edited from its latent alone
        raise damage.DamagedImage(cur.id, problem)
    anchor = anchor_of(store, cur)
    anchor_latent = cur_latent = None
    base = resolve_params(spec.preset, spec.overrides)
    n = len(spec.steps)
    before = None  # the image the step edits, for its check (read when first needed)
    memo: dict = {}  # the places of things the request named, found once per job
    for k, step in enumerate(spec.steps):
        if progress.cancelled():
            raise EditCancelled("cancelled between steps")
        progress.step = k + 1
        key = spec.step_key(progress.job_id, k)
        if (done := store.node_by_step_key(key)) is not None:  # a re-run: stored before
            progress.made(done.id)
            cur, cur_latent, before = done, None, None
            if done.kind == "op":
                anchor, anchor_latent = done, None
            continue
        source_prompt = (spec.base_caption or cur.caption) if k == 0 else cur.caption
        size = (cur.width, cur.height)
        if step.get("kind") == "op":
            where = regions.for_operation(
                backend, spec, ops.parse(step.get("op", "")).name, size,
                functools.partial(latent_of, store, backend, cur, progress),
                source_prompt=source_prompt, seed=spec.seed, memo=memo)
            if not tell(spec, k, step, where):
                cur = operation(store, cur, step, key, progress, where.region)
                anchor, anchor_latent, cur_latent, before = cur, None, None, None
            continue
        if anchor_latent is None:
            anchor_latent = latent_of(store, backend, anchor, progress)
        if cur_latent is None:
            cur_latent = anchor_latent if cur.id == anchor.id else latent_of(
                store, backend, cur, progress)
        progress.tokens = timing.tokens_of_latent(cur_latent.shape)
        started = time.perf_counter()
        where = regions.for_step(store, backend, spec, step, cur_latent, size,
                                 source_prompt=source_prompt, seed=spec.seed, memo=memo)
        if tell(spec, k, step, where):
            continue  # nothing to change was found: the step is not run
        strength = spec.strength if spec.strength is not None else step.get("strength", 0.5)
        knobs = {name: v for name, v in strength_overrides(strength, base).items()
                 if spec.overrides.get(name) is None}
        # with a region, the pixels outside it are the stored image's, byte for byte
        previous = None if where.region is None else checking.image_of(store, cur)
        result = backend.edit(
            cur_latent, source_prompt, step["target_prompt"],
            anchors=Anchors(anchor_latent, None if cur.id == anchor.id else cur_latent),
            focus_words=step.get("focus_words", ()), preset=spec.preset,
            overrides={**spec.overrides, **knobs}, seed=spec.seed,
            output_size=(anchor.width, anchor.height) if previous is None else None,
            progress=progress.calls(k, n), cancel=progress.cancelled,
            region=where.region, previous_image=previous)
        progress.stage = "save"
        node = store.add_edit(
            cur.id, png_bytes(result.image), latent_to_bytes(result.latent),
            caption=step["target_prompt"], instruction=step["instruction"],
            target_prompt=step["target_prompt"], focus_words=step.get("focus_words", ()),
            preset=spec.preset, params={**result.params, "strength": strength},
            seed=result.seed, model_id=getattr(backend, "model_id", None),
            timings=result.timings, step_key=key,
            mask=None if where.region is None else where.region.png())
        timing.record(backend, progress.tokens, time.perf_counter() - started,
                      getattr(result, "nfe", 0))
        checking.record(store, backend, node, result.image, step["target_prompt"],
                        before=before if before is not None else checking.image_of(store, cur),
                        source_prompt=source_prompt, region=where.region)
        progress.made(node.id)
        cur, cur_latent, before = node, result.latent, result.image


def tell(spec: JobSpec, k: int, step: dict, where: regions.StepRegion) -> bool:
    """Keep what the reply must say about step k's region (JobSpec.notes); True when the
    step is not run."""
    if where.note:
        said = f"{where.note.rstrip('.')}."
        if len(spec.steps) > 1:
            said = f"Step {k + 1} ({step['instruction']}): {said}"
        spec.notes.append(said)
    return where.skip


def generate(store, backend, spec: JobSpec, progress: Progress) -> None:
    """A new root from the prompt."""
    from editing_core import latent_to_bytes

    progress.step = 1
    started = time.perf_counter()
    result = backend.generate(spec.prompt, width=spec.width, height=spec.height,
                              preset=spec.preset, overrides=spec.overrides, seed=spec.seed,
                              progress=progress.calls(0, 1), cancel=progress.cancelled)
    progress.stage = "save"
    node = store.add_generated(
        spec.conversation_id, png_bytes(result.image), latent_to_bytes(result.latent),
        caption=spec.prompt, instruction=spec.request or None, target_prompt=spec.prompt,
        preset=spec.preset, params=result.params, seed=result.seed,
        model_id=getattr(backend, "model_id", None), timings=result.timings)
    progress.tokens = timing.tokens_of_latent(result.latent.shape)
    timing.record(backend, progress.tokens, time.perf_counter() - started,
                  getattr(result, "nfe", 0))
    checking.record(store, backend, node, result.image, spec.prompt)
    progress.made(node.id)


def anchor_of(store, node):
    """The image edits are anchored to: the lineage's root, or the latest exact
    operation on the way (a crop or a rotation gives the image a new frame)."""
    if node.parent_id is None or node.kind == "op":
        return node
    path = store.path(node.id)
    return next((n for n in reversed(path) if n.kind == "op"), path[0])


def latent_of(store, backend, node, progress: Progress):
    """The node's clean latent; encoded from its image (and kept) when it has none or its
    latent blob is damaged."""
    from editing_core import latent_from_bytes, latent_to_bytes

    data = damage.read_latent(store, node)
    if data is not None:
        return latent_from_bytes(data)
    progress.stage = "encode"
    img = Image.open(io.BytesIO(damage.read_image(store, node)))
    latent = backend.encode_image(img, None)  # None: at the backend's working size
    store.set_latent(node.id, latent_to_bytes(latent))  # encoded once, kept
    return latent


def operation(store, cur, step: dict, step_key: str | None, progress: Progress, region=None):
    """An exact operation (agent/ops.py) on the current image, stored as a node of kind
    op with its parameters; its latent is encoded when an edit first needs it. region: a
    Region at the image's size the operation keeps to (the rest stays byte for byte)."""
    op = ops.parse(step.get("op", ""))
    progress.stage = "op"
    t0 = time.perf_counter()
    original = Image.open(io.BytesIO(store.read_image(cur)))
    img = ops.apply(original, op)
    if region is not None:
        inside = Image.fromarray(region.mask.astype("uint8") * 255, "L")
        img = Image.composite(img.convert("RGB"), original.convert("RGB"), inside)
    node = store.add_edit(
        cur.id, png_bytes(img), None, caption=step["target_prompt"],
        instruction=step["instruction"], target_prompt=step["target_prompt"],
        params={"op": op.name, **op.params, **({} if region is None else {
            "region": region.describe()})}, timings={"op_s": time.perf_counter() - t0},
        kind="op", step_key=step_key, mask=None if region is None else region.png())
    progress.made(node.id)
    return node


def job_size(store, spec: JobSpec, base_node_id: str | None = None) -> tuple[int, int] | None:
    """(W, H) of the image an edit job starts from (its anchor), if known."""
    node_id = base_node_id or spec.base_node_id
    if node_id is None:
        return None
    anchor = anchor_of(store, store.get_node(node_id))
    return (anchor.width, anchor.height) if anchor.width and anchor.height else None
