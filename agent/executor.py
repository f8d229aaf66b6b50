"""The executor: edit and generation jobs on the process's one model, one at a time.

diffusers models are not thread-safe, so one worker thread runs every job of a store
(and one lock guards each loaded backend across stores). submit / progress / wait /
cancel is the whole interface; a distributed runner (Celery workers over Redis, Ray
Serve) would implement the same four calls.

A job is a plan: step k edits the node made by step k-1, with anchors (the lineage's
root latent, that node's latent). Each finished step is a complete node (image and
latent, one transaction); a failure or a cancel keeps the finished steps and stores
nothing of the failing one. Job state is written to the store's jobs table, so a
page reload (a new ChatSession) finds a running or finished job; when the job ends
the executor writes the assistant's result message.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from agent import damage, timing
from agent.job_text import NOT_RUN, result_text
from agent.views import JobView
from editing_core.images import png_bytes
from mtedit.settings import Settings

log = logging.getLogger(__name__)

_BACKENDS: dict[tuple, object] = {}
_BACKEND_LOCKS: dict[int, threading.Lock] = {}
_REGISTRY_LOCK = threading.Lock()
_EXECUTORS: dict[tuple, Executor] = {}
STORE_EVERY_S = 0.5  # progress writes to the jobs table, at most this often


@dataclass
class JobSpec:
    """What to run. kind "edit": steps from base_node_id; kind "generate": a new root."""

    kind: str
    conversation_id: str
    steps: list[dict] = field(default_factory=list)  # EditStep dicts
    base_node_id: str | None = None
    after_job: str | None = None  # start from the last node of this job (queued behind it)
    base_caption: str = ""  # the base node's caption when the store's is empty (asked later)
    prompt: str = ""
    preset: str = "mtc"
    overrides: dict = field(default_factory=dict)  # editing_core parameter names
    strength: float | None = None  # replaces each step's strength when set
    seed: int = 0
    width: int | None = None
    height: int | None = None
    request: str = ""
    summary: str = ""  # the plan's one-sentence summary, told with the result
    notes: list[str] = field(default_factory=list)
    # step k stores its node under the key "<step_key_base or job id>:<step_offset + k>":
    # a step run again (a resumed plan, a redelivered job) finds its node instead of
    # adding a second one
    step_key_base: str = ""
    step_offset: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> JobSpec:
        """The spec stored in a job's request (unknown keys are ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{"kind": "edit", "conversation_id": "",
                      **{k: v for k, v in data.items() if k in names}})


@dataclass
class _State:
    id: str
    spec: JobSpec
    status: str = "queued"
    done: int = 0
    total: int = 0
    stage: str = "queued"
    step: int = 0
    started: float = field(default_factory=time.time)
    error: str | None = None
    node_ids: list[str] = field(default_factory=list)
    message_id: str | None = None
    # Plans the job in the worker (fills spec.steps / summary / notes) so that a slow LLM
    # planner never blocks the page; raises ValueError with the reply when it cannot.
    prepare: Callable[[JobSpec], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    last_write: float = 0.0
    estimate: timing.Estimate | None = None  # from this process's measurements, at submit
    backend: object = None  # the model that runs it (for the measured seconds per call)
    tokens: int | None = None  # image tokens per model call

    def view(self) -> JobView:
        elapsed = time.time() - self.started
        est = self.estimate
        tokens = self.tokens if self.tokens is not None else (est.tokens if est else None)
        figure = timing.seconds_per_call(self.backend, tokens)
        eta = None
        if self.status == "running":
            eta = timing.eta(self.done, self.total, elapsed, figure)
        elif self.status == "queued" and est is not None:
            eta = est.seconds
        return JobView(id=self.id, conversation_id=self.spec.conversation_id, status=self.status,
                       done=self.done, total=self.total, stage=self.stage, step=self.step,
                       steps=max(1, len(self.spec.steps)), elapsed_s=elapsed, eta_s=eta,
                       error=self.error, node_ids=tuple(self.node_ids),
                       message_id=self.message_id,
                       estimate_s=est.seconds if est else None)


def load_backend(settings: Settings):
    """The process's backend for these settings (loaded once, then shared)."""
    key = (settings.model, settings.device, settings.dtype, settings.offload, settings.max_side)
    with _REGISTRY_LOCK:
        if key in _BACKENDS:
            return _BACKENDS[key]
    from editing_core import FluxBackend

    backend = FluxBackend.from_pretrained(settings.model, device=settings.device,
                                          dtype=settings.dtype, offload=settings.offload,
                                          max_side=settings.max_side)
    with _REGISTRY_LOCK:
        return _BACKENDS.setdefault(key, backend)


def make_executor(store, settings: Settings, backend=None):
    """The process's executor for this store: Celery workers when settings.queue_url is
    set (agent.queue), else the in-process worker thread."""
    if settings.queue_url:
        from agent.queue import QueueExecutor

        return QueueExecutor.shared(store, settings)
    return Executor.shared(store, settings, backend)


def _backend_lock(backend) -> threading.Lock:
    with _REGISTRY_LOCK:
        return _BACKEND_LOCKS.setdefault(id(backend), threading.Lock())


def explain_error(exc: BaseException) -> str:
    """A sentence a user can act on."""
    from editing_core import DeviceOutOfMemory, ImageInputError, ModelLoadError

    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if isinstance(exc, DeviceOutOfMemory) or "out of memory" in text.lower():
        return (f"the GPU ran out of memory ({text[:200]}). Try fewer steps (\"use 8 steps\"), a "
                "smaller image (MTEDIT_MAX_SIDE=768) or CPU offload (MTEDIT_OFFLOAD=model).")
    if isinstance(exc, ModelLoadError):
        return f"the model could not be loaded: {text}"
    if isinstance(exc, damage.DamagedImage):
        return f"{text[:1].upper()}{text[1:]}; edit another image, or roll back to one"
    if isinstance(exc, ImageInputError):
        return f"the image could not be used: {text}"
    if isinstance(exc, ValueError):
        return text
    return f"{name}: {text[:300]}"


class Executor:
    """One worker thread running jobs for one store on one backend."""

    def __init__(self, store, backend=None, *, settings: Settings | None = None,
                 loader: Callable[[], object] | None = None):
        self.store = store
        self.settings = settings or Settings()
        self._backend = backend
        self._loader = loader or (lambda: load_backend(self.settings))
        self._queue: queue.Queue[_State | None] = queue.Queue()
        self._jobs: dict[str, _State] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._held: set[str] = set()  # claims of sessions of this process
        self._beat: threading.Thread | None = None
        self._beat_lock = threading.Lock()

    @classmethod
    def shared(cls, store, settings: Settings, backend=None) -> Executor:
        """The process-wide executor for this store (and backend, when one is given)."""
        key = (store.url, str(store.data_dir), id(backend) if backend is not None else None)
        with _REGISTRY_LOCK:
            ex = _EXECUTORS.get(key)
            if ex is None:
                ex = _EXECUTORS[key] = cls(store, backend, settings=settings)
            return ex

    # -- the interface -----------------------------------------------------------------

    def submit(self, spec: JobSpec, prepare: Callable[[JobSpec], None] | None = None,
               job_id: str | None = None) -> str:
        """Queue the job; returns its id. prepare: plans it in the worker first (stage
        "planning"). job_id: a claim of this conversation (see claim) that becomes the job.
        storage.ConversationBusy when another job of the conversation is active and this
        one is not queued behind the newest of them."""
        stage = "planning" if prepare else "queued"
        job_id = self._record(spec, job_id, stage)
        state = _State(job_id, spec, stage=stage, prepare=prepare)
        self._estimate(state)
        with self._lock:
            self._held.discard(job_id)
            self._jobs[job_id] = state
            self._ensure_thread()
        self._ensure_heartbeat()
        self._queue.put(state)
        return job_id

    def _record(self, spec: JobSpec, job_id: str | None, stage: str = "queued") -> str:
        if job_id is not None:
            self.store.update_job(job_id, kind=spec.kind, request=spec.as_dict(), stage=stage)
            return job_id
        return self.store.create_job(spec.kind, request=spec.as_dict(),
                                     conversation_id=spec.conversation_id, stage=stage,
                                     exclusive=True, after=spec.after_job).id

    def claim(self, conversation_id: str) -> str:
        """Reserve the conversation before planning: a queued job row that submit() turns
        into the job, or release() gives back. The reservation is what makes one job per
        conversation hold across processes. storage.ConversationBusy when it is taken."""
        queued = self.last_queued(conversation_id)
        job = self.store.create_job("edit", {"claim": True}, conversation_id, stage="planning",
                                    exclusive=True, after=queued[0] if queued else None)
        with self._lock:
            self._held.add(job.id)
        self._ensure_heartbeat()
        return job.id

    def release(self, job_id: str | None) -> None:
        """Give back a claim that did not become a job (nothing to run)."""
        if job_id is None:
            return
        with self._lock:
            held = job_id in self._held
            self._held.discard(job_id)
        if held:
            self.store.delete_job(job_id)

    def _estimate(self, state: _State) -> None:
        """How long the job will take, from what this process measured (agent.timing)."""
        state.backend = state.backend or self._backend
        state.estimate = timing.estimate(state.spec, state.backend, self._job_size(state.spec))
        state.total = state.estimate.calls

    def _job_size(self, spec: JobSpec) -> tuple[int, int] | None:
        """(W, H) of the image an edit job starts from, if known."""
        try:
            node_id = spec.base_node_id
            if node_id is None and spec.after_job:
                with self._lock:
                    prev = self._jobs.get(spec.after_job)
                node_id = prev.spec.base_node_id if prev is not None else None
            if node_id is None:
                return None
            node = self.store.get_node(node_id)
            anchor = self._anchor(node)
            return (anchor.width, anchor.height) if anchor.width and anchor.height else None
        except Exception:  # noqa: BLE001 - an estimate is never worth a failed submit
            return None

    def progress(self, job_id: str) -> JobView | None:
        """The job's state if this process runs (or ran) it, else None (ask the store)."""
        with self._lock:
            state = self._jobs.get(job_id)
        return state.view() if state else None

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        """Block until the job ends (or timeout). A job of another process is followed in
        the store (None: the caller reads the store's record)."""
        with self._lock:
            state = self._jobs.get(job_id)
        if state is None:
            wait_in_store(self.store, job_id, timeout)
            return None
        state.finished.wait(timeout)
        return state.view()

    def cancel(self, job_id: str) -> bool:
        """Stop the job between model calls, whichever process runs it."""
        with self._lock:
            state = self._jobs.get(job_id)
        if state is not None:
            if state.finished.is_set():
                return False
            state.cancel.set()
        try:
            return self.store.request_cancel(job_id) or state is not None
        except Exception:  # noqa: BLE001 - a missing row: nothing to cancel
            return state is not None

    def active(self, conversation_id: str) -> JobView | None:
        """The conversation's first unfinished job in this process (the running one)."""
        states = self._unfinished(conversation_id)
        return states[0].view() if states else None

    def last_queued(self, conversation_id: str) -> tuple[str, JobSpec] | None:
        """The conversation's last unfinished job: (id, spec), to queue an edit behind it."""
        states = self._unfinished(conversation_id)
        return (states[-1].id, states[-1].spec) if states else None

    def cancel_all(self, conversation_id: str, timeout: float = 30.0) -> None:
        """Cancel every unfinished job of the conversation and wait for them to stop."""
        states = self._unfinished(conversation_id)
        for s in states:
            s.cancel.set()
        for s in states:
            s.finished.wait(timeout)

    def _unfinished(self, conversation_id: str) -> list[_State]:
        with self._lock:
            return [s for s in self._jobs.values()
                    if s.spec.conversation_id == conversation_id and not s.finished.is_set()]

    def backend(self):
        """The loaded backend (loads it on first use)."""
        if self._backend is None:
            self._backend = self._loader()
        return self._backend

    def run_job(self, job_id: str) -> JobView | None:
        """Run a job submitted elsewhere (a queue worker), here and now. None when it is
        not queued any more (taken by another worker, cancelled or interrupted)."""
        job = self.store.start_job(job_id)
        if job is None:
            return None
        state = _State(job.id, JobSpec.from_dict(job.request), status="running")
        with self._lock:
            self._jobs[job.id] = state
        self._ensure_heartbeat()
        try:
            self._run(state)
        finally:
            state.finished.set()
        return state.view()

    # -- the worker --------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="mtedit-executor", daemon=True)
            self._thread.start()

    def _ensure_heartbeat(self) -> None:
        """Start the heartbeat thread if needed (never call while holding self._lock)."""
        with self._beat_lock:
            if self._beat is None or not self._beat.is_alive():
                self._beat = threading.Thread(target=self._heartbeats, name="mtedit-heartbeat",
                                              daemon=True)
                self._beat.start()

    def _owned(self) -> list[str]:
        with self._lock:
            return [*self._held, *(i for i, st in self._jobs.items() if not st.finished.is_set())]

    def _send_heartbeat(self, ids: list[str]) -> dict[str, bool]:
        return self.store.heartbeat(ids)

    def _heartbeats(self) -> None:
        """Refresh the heartbeat of every job this process owns, and pass on cancels asked
        by other processes; ends when it owns nothing."""
        from storage.jobs import HEARTBEAT_S

        while True:
            ids = self._owned()
            if not ids:
                with self._beat_lock:
                    if not self._owned():
                        self._beat = None
                        return
                continue
            try:
                alive = self._send_heartbeat(ids)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
                alive = {}
            with self._lock:
                for job_id, cancel in alive.items():
                    state = self._jobs.get(job_id)
                    if cancel and state is not None:
                        state.cancel.set()
            time.sleep(HEARTBEAT_S)

    def _work(self) -> None:
        try:
            timing.configure_threads(self.settings.threads)
        except Exception:  # a bad setting must not stop the worker
            log.exception("could not set the number of threads")
        while True:
            state = self._queue.get()
            if state is None:
                return
            try:
                self._run(state)
            except Exception:  # never let the worker die
                log.exception("job %s crashed", state.id)
            finally:
                state.finished.set()

    def _write(self, state: _State, force: bool = False, **extra) -> None:
        now = time.time()
        if not force and now - state.last_write < STORE_EVERY_S:
            return
        state.last_write = now
        try:
            self.store.update_job(state.id, done=state.done, total=state.total, stage=state.stage,
                                  result_node_ids=state.node_ids, **extra)
        except Exception:
            log.exception("could not record progress of job %s", state.id)

    def _run(self, state: _State) -> None:
        spec = state.spec
        if state.cancel.is_set():
            self._finish(state, "cancelled", None)
            return
        state.status, state.started = "running", time.time()
        state.stage = "planning" if state.prepare is not None else "load"
        self._write(state, force=True, status="running")
        from editing_core import EditCancelled

        try:
            if state.prepare is not None:
                try:
                    state.prepare(spec)
                except ValueError as exc:
                    self._finish(state, "failed", str(exc))
                    return
                state.stage = "load"
                self.store.update_job(state.id, request=spec.as_dict())  # the plan made
            # a plan of exact operations only needs no model
            ops_only = spec.kind == "edit" and bool(spec.steps) and all(
                s.get("kind") == "op" for s in spec.steps)
            backend = None if ops_only else self.backend()
            state.backend = backend
            if state.prepare is not None:
                self._estimate(state)  # the plan is known now
            with _backend_lock(backend) if backend is not None else contextlib.nullcontext():
                if spec.kind == "generate":
                    self._generate(state, backend)
                else:
                    self._edit(state, backend)
        except EditCancelled:
            self._finish(state, "cancelled", None)
        except Exception as exc:
            log.info("job %s failed", state.id, exc_info=True)
            self._finish(state, "failed", explain_error(exc))
        else:
            self._finish(state, "done", None)

    def _progress_fn(self, state: _State, offset_steps: int, n_steps: int):
        def progress(done: int, total: int, stage: str) -> None:
            state.total = total * n_steps
            state.done = total * offset_steps + done
            state.stage = stage
            self._write(state)

        return progress

    def _latent(self, backend, node, state: _State):
        from editing_core import latent_from_bytes, latent_to_bytes

        data = damage.read_latent(self.store, node)  # a damaged latent is rebuilt below
        if data is not None:
            return latent_from_bytes(data)
        state.stage = "encode"
        img = Image.open(io.BytesIO(damage.read_image(self.store, node)))
        latent = backend.encode_image(img, None)  # None: at the backend's working size
        self.store.set_latent(node.id, latent_to_bytes(latent))  # encoded once, kept
        return latent

    def _edit(self, state: _State, backend) -> None:
        from editing_core import Anchors, EditCancelled, latent_to_bytes, resolve_params
        from editing_core.presets import strength_overrides

        spec = state.spec
        store = self.store
        if spec.after_job:
            with self._lock:
                prev = self._jobs.get(spec.after_job)
            status, made = ((prev.status, prev.node_ids) if prev is not None else
                            _stored_result(store, spec.after_job))
            if status != "done" or not made:
                raise ValueError(NOT_RUN)
            spec.base_node_id = made[-1]
        cur = store.get_node(spec.base_node_id)
        anchor = self._anchor(cur)
        anchor_latent = cur_latent = None
        base = resolve_params(spec.preset, spec.overrides)
        n = len(spec.steps)
        for k, step in enumerate(spec.steps):
            if state.cancel.is_set():
                raise EditCancelled("cancelled between steps")
            state.step = k + 1
            key = f"{spec.step_key_base or state.id}:{spec.step_offset + k}"
            if (done := store.node_by_step_key(key)) is not None:  # a re-run: stored before
                state.node_ids.append(done.id)
                cur, cur_latent = done, None
                if done.kind == "op":
                    anchor, anchor_latent = done, None
                continue
            if step.get("kind") == "op":
                cur = self._operation(state, cur, step, key)
                anchor, anchor_latent, cur_latent = cur, None, None
                continue
            if anchor_latent is None:
                anchor_latent = self._latent(backend, anchor, state)
            if cur_latent is None:
                cur_latent = anchor_latent if cur.id == anchor.id else self._latent(
                    backend, cur, state)
            state.tokens = timing.tokens_of_latent(cur_latent.shape)
            started = time.perf_counter()
            strength = spec.strength if spec.strength is not None else step.get("strength", 0.5)
            knobs = {key: v for key, v in strength_overrides(strength, base).items()
                     if spec.overrides.get(key) is None}
            overrides = {**spec.overrides, **knobs}
            source_prompt = (spec.base_caption or cur.caption) if k == 0 else cur.caption
            result = backend.edit(
                cur_latent, source_prompt, step["target_prompt"],
                anchors=Anchors(anchor_latent, None if cur.id == anchor.id else cur_latent),
                focus_words=step.get("focus_words", ()), preset=spec.preset, overrides=overrides,
                seed=spec.seed, output_size=(anchor.width, anchor.height),
                progress=self._progress_fn(state, k, n), cancel=state.cancel.is_set)
            state.stage = "save"
            params = {**result.params, "strength": strength}
            node = store.add_edit(
                cur.id, png_bytes(result.image), latent_to_bytes(result.latent),
                caption=step["target_prompt"], instruction=step["instruction"],
                target_prompt=step["target_prompt"], focus_words=step.get("focus_words", ()),
                preset=spec.preset, params=params, seed=result.seed,
                model_id=getattr(backend, "model_id", None), timings=result.timings,
                step_key=key)
            state.node_ids.append(node.id)
            timing.record(backend, state.tokens, time.perf_counter() - started,
                          getattr(result, "nfe", 0))
            self._write(state, force=True)
            cur, cur_latent = node, result.latent

    def _anchor(self, node):
        """The image edits are anchored to: the lineage's root, or the latest exact
        operation on the way (a crop or a rotation gives the image a new frame)."""
        if node.parent_id is None or node.kind == "op":
            return node
        path = self.store.path(node.id)
        return next((n for n in reversed(path) if n.kind == "op"), path[0])

    def _operation(self, state: _State, cur, step: dict, step_key: str | None = None):
        """An exact operation (agent/ops.py) on the current image, stored as a node of kind
        op with its parameters; its latent is encoded when an edit first needs it."""
        from agent import ops

        op = ops.parse(step.get("op", ""))
        state.stage = "op"
        t0 = time.perf_counter()
        img = ops.apply(Image.open(io.BytesIO(self.store.read_image(cur))), op)
        node = self.store.add_edit(
            cur.id, png_bytes(img), None, caption=step["target_prompt"],
            instruction=step["instruction"], target_prompt=step["target_prompt"],
            params={"op": op.name, **op.params}, timings={"op_s": time.perf_counter() - t0},
            kind="op", step_key=step_key)
        state.node_ids.append(node.id)
        self._write(state, force=True)
        return node

    def _generate(self, state: _State, backend) -> None:
        from editing_core import latent_to_bytes

        spec = state.spec
        state.step = 1
        started = time.perf_counter()
        result = backend.generate(spec.prompt, width=spec.width, height=spec.height,
                                  preset=spec.preset, overrides=spec.overrides, seed=spec.seed,
                                  progress=self._progress_fn(state, 0, 1),
                                  cancel=state.cancel.is_set)
        state.stage = "save"
        node = self.store.add_generated(
            spec.conversation_id, png_bytes(result.image), latent_to_bytes(result.latent),
            caption=spec.prompt, instruction=spec.request or None, target_prompt=spec.prompt,
            preset=spec.preset, params=result.params, seed=result.seed,
            model_id=getattr(backend, "model_id", None), timings=result.timings)
        state.node_ids.append(node.id)
        state.tokens = timing.tokens_of_latent(result.latent.shape)
        timing.record(backend, state.tokens, time.perf_counter() - started,
                      getattr(result, "nfe", 0))

    def _finish(self, state: _State, status: str, error: str | None) -> None:
        state.status, state.error = status, error
        if status == "done":
            state.done = max(state.done, state.total)
        state.stage = ""
        said = {"text": result_text(state), "node_ids": state.node_ids,
                "kind": state.spec.kind if status == "done" else "error"}
        try:  # the end and its message in one transaction: never one without the other
            ended = self.store.end_job(state.id, status, error=error, done=state.done,
                                       total=state.total, result_node_ids=state.node_ids,
                                       message=said)
            if ended is not None and ended[1] is not None:
                state.message_id = ended[1].id
        except Exception:
            log.exception("could not store the end of job %s", state.id)


def _stored_result(store, job_id: str) -> tuple[str, tuple[str, ...]]:
    try:
        job = store.get_job(job_id)
    except Exception:  # noqa: BLE001 - gone: treat as not finished
        return "missing", ()
    return job.status, job.result_node_ids


def wait_in_store(store, job_id: str, timeout: float | None = None, poll: float = 0.025):
    """Follow a job in the store until it ends (or timeout); a job whose owner stopped
    beating is interrupted on the way. Returns the last record."""
    from agent.resume import reap

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = store.get_job(job_id)
        if not job.active:
            return job
        if store.is_stale(job):
            reap(store, job.conversation_id)
            continue
        if deadline is not None and time.monotonic() >= deadline:
            return job
        time.sleep(poll)
