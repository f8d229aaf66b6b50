"""The executor: edit and generation jobs on the process's one model, one at a time.

diffusers models are not thread-safe, so one worker thread runs every job of a store
(and one lock guards each loaded backend across stores, agent/jobs/backends.py). claim /
submit / progress / wait / cancel is the whole interface; the Celery queue
(agent/jobs/celery_queue.py) implements the same calls. What a job does is
agent/jobs/run.py; this file keeps each job's live state (a LiveJob: the runner's
`progress`), writes it to the store's jobs table so a page reload (a new ChatSession)
finds a running or finished job, and writes the assistant's result message when the job
ends.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.jobs import shutdown, timing
from agent.jobs.backends import backend_lock, load_backend
from agent.jobs.claim import Claim
from agent.jobs.failures import log_failure
from agent.jobs.heartbeat import Heartbeat
from agent.jobs.job_text import explain_error, result_text
from agent.jobs.recovery import reap, wait_in_store
from agent.jobs.run import job_size, run_job
from agent.jobs.spec import CLAIM_REQUEST, JobSpec
from agent.jobs.view import JobView, job_view
from mtedit.settings import Settings

log = logging.getLogger(__name__)

STORE_EVERY_S = 0.5  # progress writes to the jobs table, at most this often


@dataclass
class LiveJob:
    """A job this process runs: its state, and the runner's `progress` (agent/jobs/run.py)."""

    id: str
    spec: JobSpec
    store: object = field(repr=False, default=None)
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

    @property
    def job_id(self) -> str:
        return self.id

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def calls(self, step: int, steps: int):
        def progress(done: int, total: int, stage: str) -> None:
            self.total = total * steps
            self.done = total * step + done
            self.stage = stage
            self.write()

        return progress

    def made(self, node_id: str) -> None:
        self.node_ids.append(node_id)
        self.write(force=True)

    def write(self, force: bool = False, **extra) -> None:
        """Progress to the jobs table (at most every STORE_EVERY_S unless forced)."""
        now = time.time()
        if not force and now - self.last_write < STORE_EVERY_S:
            return
        self.last_write = now
        try:
            self.store.update_job(self.id, done=self.done, total=self.total, stage=self.stage,
                                  result_node_ids=self.node_ids, **extra)
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the end is not
            log_failure(log, "could not record progress of job %s", self.id, exc=exc)

    def view(self) -> JobView:
        est = self.estimate
        tokens = self.tokens if self.tokens is not None else (est.tokens if est else None)
        eta = None
        if self.status == "running":
            eta = timing.eta(self.done, self.total, time.time() - self.started,
                             timing.seconds_per_call(self.backend, tokens))
        elif self.status == "queued" and est is not None:
            eta = est.seconds
        return job_view(id=self.id, conversation_id=self.spec.conversation_id,
                        status=self.status, done=self.done, total=self.total, stage=self.stage,
                        steps=self.spec.steps, started=self.started, error=self.error,
                        node_ids=self.node_ids, step=self.step, eta_s=eta,
                        message_id=self.message_id, estimate_s=est.seconds if est else None)


class Executor:
    """One worker thread running jobs for one store on one backend."""

    stopping = False  # a polite stop was asked (agent/jobs/shutdown.py)

    def __init__(self, store, backend=None, *, settings: Settings | None = None,
                 loader: Callable[[], object] | None = None):
        self.store = store
        self.settings = settings or Settings()
        self._backend = backend
        self._loader = loader or (lambda: load_backend(self.settings))
        self._queue: queue.Queue[LiveJob | None] = queue.Queue()
        self._jobs: dict[str, LiveJob] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._held: set[str] = set()  # claims of sessions of this process
        self._heartbeat = Heartbeat(store, self._owned, self._beaten)
        shutdown.watch(self)  # at exit, its jobs are marked interrupted at once

    # -- the interface -----------------------------------------------------------------

    def claim(self, conversation_id: str) -> Claim:
        """Reserve the conversation for one message (see agent/jobs/claim.py): stale jobs
        are interrupted first (told in the chat), then a queued job row is made that a
        submit turns into the job, or the end of the `with` block gives back.
        storage.ConversationBusy when it is taken."""
        reap(self.store, conversation_id)
        behind = self.last_queued(conversation_id)
        job = self.store.create_job("edit", dict(CLAIM_REQUEST), conversation_id,
                                    stage="planning", exclusive=True,
                                    after=behind[0] if behind else None)
        with self._lock:
            self._held.add(job.id)
        self._heartbeat.ensure()
        return Claim(self, job.id, conversation_id, behind)

    def release(self, job_id: str | None) -> None:
        """Give back a claim that did not become a job (nothing to run)."""
        if job_id is None:
            return
        with self._lock:
            held = job_id in self._held
            self._held.discard(job_id)
        if held:
            self.store.delete_job(job_id)

    def submit(self, spec: JobSpec, prepare: Callable[[JobSpec], None] | None = None,
               job_id: str | None = None) -> str:
        """Queue the job; returns its id. prepare: plans it in the worker first (stage
        "planning"). job_id: a claim of this conversation that becomes the job.
        storage.ConversationBusy when another job of the conversation is active and this
        one is not queued behind the newest of them."""
        stage = "planning" if prepare else "queued"
        job_id = self._record(spec, job_id, stage)
        live = LiveJob(job_id, spec, self.store, stage=stage, prepare=prepare)
        self._estimate(live)
        with self._lock:
            self._held.discard(job_id)
            self._jobs[job_id] = live
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="mtedit-executor",
                                                daemon=True)
                self._thread.start()
        self._heartbeat.ensure()
        self._queue.put(live)
        return job_id

    def progress(self, job_id: str) -> JobView | None:
        """The job's state if this process runs (or ran) it, else None (ask the store)."""
        with self._lock:
            live = self._jobs.get(job_id)
        return live.view() if live else None

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        """Block until the job ends (or timeout). A job of another process is followed in
        the store (None: the caller reads the store's record)."""
        with self._lock:
            live = self._jobs.get(job_id)
        if live is None:
            wait_in_store(self.store, job_id, timeout)
            return None
        live.finished.wait(timeout)
        return live.view()

    def cancel(self, job_id: str) -> bool:
        """Stop the job between model calls, whichever process runs it."""
        with self._lock:
            live = self._jobs.get(job_id)
        if live is not None:
            if live.finished.is_set():
                return False
            live.cancel.set()
        try:
            return self.store.request_cancel(job_id) or live is not None
        except Exception:  # noqa: BLE001 - a missing row: nothing to cancel
            return live is not None

    def active(self, conversation_id: str) -> JobView | None:
        """The conversation's first unfinished job in this process (the running one)."""
        jobs = self._unfinished(conversation_id)
        return jobs[0].view() if jobs else None

    def last_queued(self, conversation_id: str) -> tuple[str, JobSpec] | None:
        """The conversation's last unfinished job: (id, spec), to queue an edit behind it."""
        jobs = self._unfinished(conversation_id)
        return (jobs[-1].id, jobs[-1].spec) if jobs else None

    def cancel_all(self, conversation_id: str, timeout: float = 30.0) -> None:
        """Cancel every unfinished job of the conversation and wait for them to stop."""
        jobs = self._unfinished(conversation_id)
        for live in jobs:
            live.cancel.set()
        for live in jobs:
            live.finished.wait(timeout)

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
        live = LiveJob(job.id, JobSpec.from_dict(job.request), self.store, status="running")
        with self._lock:
            self._jobs[job.id] = live
        self._heartbeat.ensure()
        try:
            self._run(live)
        finally:
            live.finished.set()
        return live.view()

    # -- the worker --------------------------------------------------------------------

    def _record(self, spec: JobSpec, job_id: str | None, stage: str = "queued") -> str:
        if job_id is not None:
            self.store.update_job(job_id, kind=spec.kind, request=spec.as_dict(), stage=stage)
            return job_id
        return self.store.create_job(spec.kind, request=spec.as_dict(),
                                     conversation_id=spec.conversation_id, stage=stage,
                                     exclusive=True, after=spec.after_job).id

    def _estimate(self, live: LiveJob) -> None:
        """How long the job will take, from what this process measured (agent.jobs.timing)."""
        live.backend = live.backend or self._backend
        try:
            base = None
            if live.spec.base_node_id is None and live.spec.after_job:
                with self._lock:
                    prev = self._jobs.get(live.spec.after_job)
                base = prev.spec.base_node_id if prev is not None else None
            size = job_size(self.store, live.spec, base)
        except Exception:  # noqa: BLE001 - an estimate is never worth a failed submit
            size = None
        live.estimate = timing.estimate(live.spec, live.backend, size)
        live.total = live.estimate.calls

    def _unfinished(self, conversation_id: str) -> list[LiveJob]:
        with self._lock:
            return [j for j in self._jobs.values()
                    if j.spec.conversation_id == conversation_id and not j.finished.is_set()]

    def _owned(self) -> list[str]:
        with self._lock:
            return [*self._held, *(i for i, j in self._jobs.items() if not j.finished.is_set())]

    def _beaten(self, alive: dict[str, bool]) -> None:
        """Pass on the cancels other processes asked for."""
        with self._lock:
            for job_id, cancel in alive.items():
                live = self._jobs.get(job_id)
                if cancel and live is not None:
                    live.cancel.set()

    def _work(self) -> None:
        try:
            timing.configure_threads(self.settings.threads)
        except Exception:  # a bad setting must not stop the worker
            log.exception("could not set the number of threads")
        while True:
            live = self._queue.get()
            if live is None:
                return
            try:
                self._run(live)
            except Exception:  # never let the worker die
                log.exception("job %s crashed", live.id)
            finally:
                live.finished.set()

    def _run(self, live: LiveJob) -> None:
        spec = live.spec
        if live.cancel.is_set():
            self._finish(live, "cancelled", None)
            return
        live.status, live.started = "running", time.time()
        live.stage = "planning" if live.prepare is not None else "load"
        live.write(force=True, status="running")
        from editing_core import EditCancelled

        try:
            if live.prepare is not None:
                try:
                    live.prepare(spec)
                except ValueError as exc:
                    self._finish(live, "failed", str(exc))
                    return
                live.stage = "load"
                self.store.update_job(live.id, request=spec.as_dict())  # the plan made
            backend = None if spec.ops_only else self.backend()
            live.backend = backend
            if live.prepare is not None:
                self._estimate(live)  # the plan is known now
            with self._lock:
                prev = self._jobs.get(spec.after_job or "")
            previous = (prev.status, tuple(prev.node_ids)) if prev is not None else None
            with backend_lock(backend) if backend is not None else contextlib.nullcontext():
                run_job(self.store, backend, spec, live, previous)
        except EditCancelled:
            self._finish(live, "cancelled", None)
        except Exception as exc:
            log.info("job %s failed", live.id, exc_info=True)
            self._finish(live, "failed", explain_error(exc))
        else:
            self._finish(live, "done", None)

    def _finish(self, live: LiveJob, status: str, error: str | None) -> None:
        if self.stopping and status != "done":  # stopped politely: interrupted, resumable
            return shutdown.finish_stopped(self, live)
        live.status, live.error = status, error
        if status == "done":
            live.done = max(live.done, live.total)
        live.stage = ""
        said = {"text": result_text(live), "node_ids": live.node_ids,
                "kind": live.spec.kind if status == "done" else "error"}
        try:  # the end and its message in one transaction: never one without the other
            ended = self.store.end_job(live.id, status, error=error, done=live.done,
                                       total=live.total, result_node_ids=live.node_ids,
                                       message=said)
            if ended is not None and ended[1] is not None:
                live.message_id = ended[1].id
        except Exception as exc:  # noqa: BLE001 - said; the job's state is kept in memory
            log_failure(log, "could not store the end of job %s", live.id, exc=exc)
