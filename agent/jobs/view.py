"""A job as the page and scripts see it: JobView, made in one place (job_view) from a job
this process runs or from the store's record of one, and the two questions asked of it:
a job's state, and the conversation's active job."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.jobs.recovery import reap

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


@dataclass(frozen=True)
class JobView:
    """Progress of an edit job; survives a page reload (the store keeps it)."""

    id: str
    conversation_id: str
    status: JobStatus
    done: int  # model calls done over the whole job
    total: int  # model calls in the whole job (0 while unknown)
    stage: str  # "queued" | "load" | "encode" | "invert" | "sample" | "save" | ""
    step: int  # 1-based plan step now running (0 before the first)
    steps: int  # plan steps in the job
    elapsed_s: float
    eta_s: float | None
    error: str | None = None
    node_ids: tuple[str, ...] = ()  # nodes stored so far
    message_id: str | None = None  # the assistant message written when the job ended
    estimate_s: float | None = None  # the whole job, from measured seconds per model call

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled", "interrupted")


def job_view(*, id: str, conversation_id: str | None, status: str, done: int, total: int,
             stage: str, steps: Sequence, started: float, ended: float | None = None,
             error: str | None = None, node_ids: Sequence[str] = (), step: int = 0,
             eta_s: float | None = None, message_id: str | None = None,
             estimate_s: float | None = None) -> JobView:
    """The one place a JobView is made. A job that failed because its process stopped reads
    as "interrupted"; elapsed time runs from `started` to `ended` (now while it runs)."""
    if status == "failed" and (error or "").startswith("interrupted"):
        status = "interrupted"
    elapsed = (time.time() if ended is None else ended) - started
    return JobView(id=id, conversation_id=conversation_id or "", status=status, done=done,
                   total=total, stage=stage, step=step, steps=max(1, len(steps)),
                   elapsed_s=elapsed, eta_s=eta_s, error=error, node_ids=tuple(node_ids),
                   message_id=message_id, estimate_s=estimate_s)


def stored_view(job) -> JobView:
    """The view of a storage Job record (a job of another process, or one that ended)."""
    ended = job.updated_at.timestamp() if not job.active else None
    return job_view(id=job.id, conversation_id=job.conversation_id, status=job.status,
                    done=job.done, total=job.total, stage=job.stage,
                    steps=job.request.get("steps") or (), started=job.created_at.timestamp(),
                    ended=ended, error=job.error, node_ids=job.result_node_ids)


def job_state(executor, store, job_id: str) -> JobView:
    """A job's state: from the executor while this process runs it, else from the store."""
    return executor.progress(job_id) or stored_view(store.get_job(job_id))


def active_job(executor, store, conversation_id: str, *, claim: str | None = None,
               reap_first: bool = True) -> JobView | None:
    """The conversation's queued or running job (the one this process runs first, else
    the store's newest), if any; `claim`, the caller's own reservation, is not one.
    reap_first: interrupt the jobs nobody beats for any more before looking."""
    view = executor.active(conversation_id)
    if view is not None:
        return view
    if reap_first:
        reap(store, conversation_id)
    for job in store.list_jobs(conversation_id, status=("queued", "running"), limit=3):
        if job.id != claim:
            return job_state(executor, store, job.id)
    return None
