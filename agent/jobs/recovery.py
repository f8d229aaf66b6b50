"""Jobs whose process stopped, and plans that did not finish.

reap() interrupts the jobs whose heartbeat stopped (storage decides, atomically, so two
processes never both report one) and tells the conversation which steps finished; jobs
queued behind an interrupted one fail with a reason. A failed edit (interrupted, or a
step that raised) is resumable: "continue" runs the steps it did not finish from its
last stored node, with the same step keys, so no step is ever stored twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from agent.jobs.failures import log_failure
from agent.jobs.job_text import NOT_RUN, interrupted_text
from agent.jobs.spec import JobSpec, is_claim

log = logging.getLogger(__name__)


def finished_steps(store, job) -> list[str]:
    """Node ids of the job's steps that are stored, in order (by step key)."""
    spec = JobSpec.from_dict(job.request)
    done = []
    for k in range(len(spec.steps)):
        node = store.node_by_step_key(spec.step_key(job.id, k))
        if node is None:
            break
        done.append(node.id)
    return done or list(job.result_node_ids)


def _told(store, job) -> dict | None:
    """What the chat says about a job interrupted now (stored with the interruption)."""
    if is_claim(job):  # a reservation that never became a job
        return _unanswered(store, job)
    if job.started_at is None and job.after_job and _unfinished(store, job.after_job):
        return {"text": _not_run_text(job), "kind": "error", "error": NOT_RUN}  # never began
    done = finished_steps(store, job) if job.kind == "edit" else list(job.result_node_ids)
    return {"text": interrupted_text(replace(job, result_node_ids=tuple(done))),
            "node_ids": done, "kind": "text"}


def _unanswered(store, claim) -> dict | None:
    """A reservation's process stopped after storing the person's message and before
    the job began: say so (else the message would stay without an answer)."""
    last = store.latest_message(claim.conversation_id) if claim.conversation_id else None
    if last is None or last.role != "user" or last.created_at < claim.created_at:
        return None  # nothing of the request was stored: nothing to answer
    return {"text": f"\"{last.text[:200]}\" was interrupted before it started (the server "
                    "handling it stopped); nothing was changed. Send it again.",
            "kind": "error"}


def _unfinished(store, job_id: str) -> bool:
    try:
        return store.get_job(job_id).status != "done"
    except Exception:  # noqa: BLE001 - gone
        return True


def _not_run_text(job) -> str:
    request = job.request.get("request") or "the next edit"
    return (f"\"{request}\" was queued behind that edit and did not run; send it again when "
            "the edit above is complete.")


def reap(store, conversation_id: str | None = None) -> list:
    """Interrupt the jobs nobody runs any more; write what happened to each conversation
    (with the interruption, in one transaction)."""
    try:
        jobs = store.interrupt_stale_jobs(conversation_id, tell=lambda j: _told(store, j))
    except Exception as exc:  # noqa: BLE001 - checked again at the next look
        log_failure(log, "could not check for interrupted jobs", exc=exc)
        return []
    fail_followers(store, jobs)
    return jobs


def interrupt(store, job_ids) -> list:
    """Mark the given active jobs interrupted now (their owner is stopping politely) and
    tell their conversations, each job once, whoever calls first."""
    jobs = store.interrupt_jobs(list(job_ids), tell=lambda j: _told(store, j))
    fail_followers(store, jobs)
    return jobs


def fail_followers(store, jobs) -> None:
    """Jobs queued behind interrupted ones end: they did not run."""
    for job in jobs:
        for follower in store.followers(job.id):
            store.end_job(follower.id, "failed", error=NOT_RUN,
                          message={"text": _not_run_text(follower), "kind": "error"})


def resumable(store, conversation_id: str):
    """The conversation's latest edit that failed before its last step (jobs queued
    behind it that never ran are passed over), or None."""
    for job in store.list_jobs(conversation_id, limit=20):
        if is_claim(job) or (job.status == "failed" and job.error == NOT_RUN):
            continue
        if job.kind != "edit" or job.status != "failed":
            return None
        steps = job.request.get("steps") or []
        return job if len(finished_steps(store, job)) < len(steps) else None
    return None


def resume_spec(store, job) -> JobSpec:
    """The rest of a failed edit's plan, from its last stored node."""
    spec = JobSpec.from_dict(job.request)
    done = finished_steps(store, job)
    base = done[-1] if done else spec.base_node_id
    if base is None and spec.after_job:  # queued behind another: start where that ended
        prev = store.get_job(spec.after_job)
        base = prev.result_node_ids[-1] if prev.result_node_ids else None
    if base is None:
        raise ValueError("the edit it was queued behind made no image, so there is nothing "
                         "to continue from; send the request again")
    caption = store.get_node(base).caption if done else spec.base_caption
    return replace(spec, conversation_id=job.conversation_id, steps=spec.steps[len(done):],
                   base_node_id=base, after_job=None, base_caption=caption or "", notes=[],
                   step_key_base=spec.step_key_base or job.id,
                   step_offset=spec.step_offset + len(done))


def stored_result(store, job_id: str) -> tuple[str, tuple[str, ...]]:
    """(status, result node ids) of a stored job ("missing", () when it is gone)."""
    try:
        job = store.get_job(job_id)
    except Exception:  # noqa: BLE001 - gone: treat as not finished
        return "missing", ()
    return job.status, job.result_node_ids


def wait_in_store(store, job_id: str, timeout: float | None = None, poll: float = 0.025):
    """Follow a job in the store until it ends (or timeout); a job whose owner stopped
    beating is interrupted on the way. Returns the last record."""
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
