"""Jobs whose process stopped, and plans that did not finish.

reap() interrupts the jobs whose heartbeat stopped (storage decides, atomically, so two
processes never both report one) and tells the conversation which steps finished; jobs
queued behind an interrupted one fail with a reason. A failed edit (interrupted, or a
step that raised) is resumable: "continue" runs the steps it did not finish from its
last stored node, with the same step keys, so no step is ever stored twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from agent.executor import JobSpec
from agent.job_text import NOT_RUN, interrupted_text

log = logging.getLogger(__name__)

RESUME = re.compile(r"\s*(?:please\s+)?(?:continue|resume|go on|carry on|finish it|"
                    r"run the rest|finish the rest|do the rest)(?:\s+please)?[.!]?\s*",
                    re.IGNORECASE)


def finished_steps(store, job) -> list[str]:
    """Node ids of the job's steps that are stored, in order (by step key)."""
    spec = JobSpec.from_dict(job.request)
    base = spec.step_key_base or job.id
    done = []
    for k in range(len(spec.steps)):
        node = store.node_by_step_key(f"{base}:{spec.step_offset + k}")
        if node is None:
            break
        done.append(node.id)
    return done or list(job.result_node_ids)


def _told(store, job) -> dict | None:
    """What the chat says about a job interrupted now (stored with the interruption)."""
    if job.request.get("claim"):  # a reservation that never became a job
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
    except Exception:
        log.warning("could not check for interrupted jobs", exc_info=True)
        return []
    for job in jobs:
        for follower in store.followers(job.id):
            store.end_job(follower.id, "failed", error=NOT_RUN,
                          message={"text": _not_run_text(follower), "kind": "error"})
    return jobs


def resumable(store, conversation_id: str):
    """The conversation's latest edit that failed before its last step (jobs queued
    behind it that never ran are passed over), or None."""
    for job in store.list_jobs(conversation_id, limit=20):
        if job.request.get("claim") or (job.status == "failed" and job.error == NOT_RUN):
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
    return JobSpec("edit", job.conversation_id, steps=spec.steps[len(done):],
                   base_node_id=base, base_caption=caption or "", preset=spec.preset,
                   overrides=spec.overrides, strength=spec.strength, seed=spec.seed,
                   request=spec.request, summary=spec.summary,
                   step_key_base=spec.step_key_base or job.id,
                   step_offset=spec.step_offset + len(done))


class ResumeFlow:
    """ChatSession's claim of the conversation and "continue"."""

    def _claimed(self, handler) -> list:
        """Run a handler that may move the head or start a job while holding the
        conversation (across processes): one at a time, the others hear it is busy."""
        from agent.jobs import busy_reply
        from storage import ConversationBusy

        cid = self._require()
        reap(self.store, cid)
        try:
            self._claim = self.executor.claim(cid)
        except ConversationBusy as exc:
            return [busy_reply(self.job(exc.job.id))]
        try:
            return handler()
        finally:
            claim, self._claim = self._claim, None
            self.executor.release(claim)

    def _resumable(self):
        cid = self._require()
        reap(self.store, cid)
        return resumable(self.store, cid)

    def _resume(self, job, text: str, wait: bool) -> list:
        """Run the steps of a failed plan that did not finish, from its last stored node."""
        from agent.plan import EditPlan

        try:
            spec = resume_spec(self.store, job)
        except ValueError as exc:
            return [self._say(f"I can't continue: {exc}.", "error", user_text=text)]
        user = self.store.add_message(self._require(), "user", text)
        self.store.add_plan(user.id, spec.request, spec.steps, "resume")
        plan = EditPlan.model_validate({"steps": spec.steps})
        return [self._run(spec, plan, wait, "edit")]
