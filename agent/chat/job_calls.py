"""The jobs of a chat session: the one running now, a job's state (from the executor
while this process runs it, else from the store), cancel and wait."""

from __future__ import annotations

import time

from agent.chat.views import JobView, Reply
from agent.jobs.recovery import reap


class JobQueries:
    """ChatSession's job calls."""

    def active_job(self) -> JobView | None:
        """The current conversation's queued or running job, if any."""
        if self._cid is None:
            return None
        view = self.executor.active(self._cid)
        if view is not None:
            return view
        reap(self.store, self._cid)  # a job nobody beats for any more is interrupted
        for job in self.store.list_jobs(self._cid, status=("queued", "running"), limit=3):
            if job.id != self._claim:
                return self.job(job.id)
        return None

    def job(self, job_id: str) -> JobView:
        """A job's state (from the executor while this process runs it, else from the
        store; a job the store says was running in a process that died reads as
        status "interrupted")."""
        view = self.executor.progress(job_id)
        if view is not None:
            return view
        job = self.store.get_job(job_id)
        status = job.status
        if status == "failed" and (job.error or "").startswith("interrupted"):
            status = "interrupted"
        end = job.updated_at if status not in ("queued", "running") else None
        elapsed = ((end.timestamp() if end else time.time()) - job.created_at.timestamp())
        return JobView(id=job.id, conversation_id=job.conversation_id or "", status=status,
                       done=job.done, total=job.total, stage=job.stage, step=0,
                       steps=len(job.request.get("steps") or []) or 1, elapsed_s=elapsed,
                       eta_s=None, error=job.error, node_ids=tuple(job.result_node_ids))

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (between model calls). Steps already
        finished keep their nodes. Returns False if the job had already finished."""
        return self.executor.cancel(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job ends (or timeout); returns its state."""
        return self.executor.wait(job_id, timeout) or self.job(job_id)

    def _busy(self) -> Reply | None:
        """An error reply while an edit of the conversation runs (head moves wait)."""
        job = self.active_job()
        return None if job is None else busy_reply(job)


def busy_reply(job: JobView) -> Reply:
    """An edit of the conversation is running (here or in another process)."""
    where = f"step {job.step} of {job.steps}, " if job.steps > 1 else ""
    pct = f"{100 * job.done // job.total}%" if job.total else job.status
    return Reply(text=f"An edit is still running ({where}{pct}); wait for it to finish or "
                 "cancel it first.", kind="error", job_id=job.id)
