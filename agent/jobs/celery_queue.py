"""The distributed executor: edit jobs run on `mtedit worker` processes over Celery + Redis.

Switched on by MTEDIT_QUEUE_URL (redis://host:6379/0). The app and the workers share the
store (MTEDIT_DATABASE_URL, PostgreSQL for several machines, and the blob folder
MTEDIT_DATA_DIR on shared storage); the broker only carries job ids. Everything a user
sees goes through the store, so any app server can follow any job:

- submit: the job row is written (one active chain per conversation, storage.jobs),
  then its id is sent to the queue. A job queued behind another of its conversation is
  not sent until that one ends: the worker that finishes a job sends its follower. So
  each conversation has at most one message in the broker, and the broker's FIFO order
  is round-robin over conversations: one person's burst does not starve another's.
- progress / wait: the jobs table (done, total, stage, result nodes), polled.
- cancel: a flag in the jobs row; the worker checks it between model calls.
- faults: the submitter beats for its jobs while they are queued, the worker while it
  runs them. A job whose heartbeat stops (worker killed, machine lost, app server gone
  before the job started) is interrupted by the next reader; its finished steps stay
  stored (each under a step key, so a step run again never adds a node) and
  "continue" runs the rest. Messages are acknowledged late and a worker handles one at
  a time: a redelivered job that is not queued any more is dropped.
"""

from __future__ import annotations

import logging
import threading

from agent.jobs import broker
from agent.jobs.executor import Executor
from agent.jobs.heartbeat import Heartbeat
from agent.jobs.recovery import wait_in_store
from agent.jobs.spec import JobSpec, is_claim
from agent.jobs.view import JobView
from mtedit.settings import Settings

log = logging.getLogger(__name__)

def send_ready(store, settings: Settings, job_id: str) -> None:
    """Send a queued job whose predecessor (if any) has ended."""
    job = store.get_job(job_id)
    if job.status != "queued" or is_claim(job):
        return  # a reservation still being planned: its app sends it once it is a job
    if job.after_job:
        prev = store.get_job(job.after_job)
        if prev.active:
            return  # the worker that ends it sends this one
    broker.deliver(store, settings, job_id)  # never raises: unsent jobs are sent again


def _no_model():
    raise RuntimeError("in queue mode the workers load the model, not the app")


class QueueExecutor(Executor):
    """submit / progress / wait / cancel over Celery workers; state lives in the store."""

    def __init__(self, store, settings: Settings):
        if not settings.queue_url:
            raise ValueError("QueueExecutor needs settings.queue_url (MTEDIT_QUEUE_URL)")
        super().__init__(store, None, settings=settings, loader=_no_model)
        self._mine: set[str] = set()  # jobs this process submitted, beaten while queued
        self._heartbeat = Heartbeat(store, self._owned, self._beaten, statuses=("queued",))

    def submit(self, spec: JobSpec, prepare=None, job_id: str | None = None) -> str:
        """Record the job and send it; prepare (planning) runs first, in a thread of
        this process, so the page does not wait for a slow planner."""
        job_id = self._record(spec, job_id, "planning" if prepare else "queued")
        with self._lock:
            self._held.discard(job_id)
            self._mine.add(job_id)
        self._heartbeat.ensure()
        if prepare is None:
            send_ready(self.store, self.settings, job_id)
        else:
            threading.Thread(target=self._plan_then_send, args=(spec, prepare, job_id),
                             name="mtedit-planning", daemon=True).start()
        return job_id

    def _plan_then_send(self, spec: JobSpec, prepare, job_id: str) -> None:
        try:
            prepare(spec)
        except Exception as exc:  # noqa: BLE001 - told in the chat, the job ends
            text = str(exc) if isinstance(exc, ValueError) else f"planning failed: {exc}"
            self.store.end_job(job_id, "failed", error=text,
                               message={"text": text, "kind": "error"})
            return
        self.store.update_job(job_id, request=spec.as_dict(), stage="queued")
        send_ready(self.store, self.settings, job_id)

    def progress(self, job_id: str) -> JobView | None:
        return None  # the store has it: ChatSession.job reads it

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        wait_in_store(self.store, job_id, timeout)
        return None

    def cancel(self, job_id: str) -> bool:
        return self.store.request_cancel(job_id)

    def active(self, conversation_id: str) -> JobView | None:
        return None

    def last_queued(self, conversation_id: str) -> tuple[str, JobSpec] | None:
        jobs = [j for j in self.store.list_jobs(conversation_id, status=("queued", "running"))
                if not is_claim(j)]
        return (jobs[0].id, JobSpec.from_dict(jobs[0].request)) if jobs else None

    def cancel_all(self, conversation_id: str, timeout: float = 30.0) -> None:
        jobs = self.store.list_jobs(conversation_id, status=("queued", "running"))
        for job in jobs:
            self.store.request_cancel(job.id)
        for job in jobs:
            wait_in_store(self.store, job.id, timeout)

    def _owned(self) -> list[str]:
        with self._lock:
            return [*self._held, *self._mine]

    def _beaten(self, alive: dict[str, bool]) -> None:
        """A job that is not queued any more is a worker's to beat for."""
        with self._lock:
            self._mine &= set(alive)
        broker.send_missing(self.store, self.settings, list(alive))
        super()._beaten(alive)
