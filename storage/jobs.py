"""Jobs of the agent's executors, in the jobs table so every process sees them.

A job is queued, running, done, failed or cancelled. Whoever owns an active job (the
process that submitted it while it waits, the process or worker that runs it) refreshes
its heartbeat every HEARTBEAT_S seconds; a queued or running job whose heartbeat is older
than `store.stale_s` belongs to nobody any more (a kill -9, a lost machine, a container
restarted under another name) and is interrupted: marked failed, its finished steps kept.
The job also names its owning process (storage/owners.py: machine, pid, start time): a
reader on the same machine interrupts it at once when that process is gone; elsewhere the
heartbeat decides. A job handed to the broker has no owning process until a worker takes
it (only the heartbeat counts), and a complete job queued behind a live one lives as long
as that one does (the runner of the one before sends it).

One conversation has at most one chain of active jobs: `create_job(exclusive=True)` locks
the conversation's row (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write transaction
is BEGIN IMMEDIATE, so writers take turns) and refuses with ConversationBusy unless the
conversation has no active job, or the new job is queued behind the newest active one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update

from storage import owners
from storage.errors import ConversationBusy, NotFoundError
from storage.ids import get_row, json_copy, new_id, worker_name
from storage.models import ConversationRow, JobRow, utcnow
from storage.records import JOB_ACTIVE, JOB_STATUSES, Job, Message

# What to say when a job ends: {"text", "node_ids", "kind"} of an assistant message (and,
# for an interruption, "error": the job's error instead of INTERRUPTED).
Said = dict

HEARTBEAT_S = 2.0  # how often an owner refreshes its active jobs
STALE_S = 30.0  # a heartbeat older than this: nobody owns the job any more
INTERRUPTED = "interrupted: the process running this job stopped"
UNTOLD = "untold"  # the stage of a job interrupted where no message could be written: the
# next interrupt_stale_jobs with a teller tells the chat (so none is ever silent)


def job_record(row: JobRow) -> Job:
    return Job(
        id=row.id, conversation_id=row.conversation_id, kind=row.kind, status=row.status,
        done=row.done, total=row.total, stage=row.stage, error=row.error,
        request=dict(row.request or {}), result_node_ids=tuple(row.result_node_ids or ()),
        worker=row.worker, created_at=row.created_at, updated_at=row.updated_at,
        heartbeat_at=row.heartbeat_at, cancel_requested=bool(row.cancel_requested),
        started_at=row.started_at,
        owner=(row.owner_host, row.owner_pid, row.owner_started) if row.owner_pid else None,
        sent_at=row.sent_at, sent_to=row.sent_to,
    )


class JobQueries:
    """The job methods of `Store` (it provides transaction(), reading() and _conv_row)."""

    stale_s: float = STALE_S

    def create_job(
        self, kind: str, request: dict | None = None, conversation_id: str | None = None, *,
        total: int = 0, stage: str = "", exclusive: bool = False, after: str | None = None,
    ) -> Job:
        """A queued job owned by this process (its heartbeat starts now).

        exclusive=True: raise ConversationBusy when the conversation has an active job,
        unless `after` names the newest active one (the new job queues behind it). Stale
        active jobs (no heartbeat within stale_s) do not count: they are interrupted."""
        now = utcnow()
        request = dict(request or {})
        if after is not None:
            request.setdefault("after_job", after)
        host, pid, started = owners.me()
        row = JobRow(
            id=new_id(), conversation_id=conversation_id, kind=kind, status="queued", done=0,
            total=int(total), stage=stage, error=None, request=json_copy(request, "request"),
            result_node_ids=[], worker=worker_name(), created_at=now, updated_at=now,
            heartbeat_at=now, cancel_requested=False, owner_host=host, owner_pid=pid,
            owner_started=started,
        )
        with self.transaction() as s:
            if conversation_id is not None:
                conv = s.scalar(select(ConversationRow).where(
                    ConversationRow.id == conversation_id).with_for_update())
                if conv is None:
                    raise NotFoundError("conversation", conversation_id)
                if exclusive:
                    active = list(s.scalars(
                        select(JobRow).where(JobRow.conversation_id == conversation_id,
                                             JobRow.status.in_(JOB_ACTIVE))
                        .order_by(JobRow.created_at.desc(), JobRow.id.desc())))
                    live = [r for r in active if not self._abandoned(s, r, now)]
                    for r in active:
                        if r not in live:
                            self._interrupt_row(r, now)
                    if live and live[0].id != after:
                        raise ConversationBusy(job_record(live[0]))
            row.created_at = row.updated_at = row.heartbeat_at = utcnow()  # in the lock
            s.add(row)
        return job_record(row)

    def update_job(
        self, job_id: str, *, status: str | None = None, done: int | None = None,
        total: int | None = None, stage: str | None = None, error: str | None = None,
        result_node_ids: Sequence[str] | None = None, kind: str | None = None,
        request: dict | None = None,
    ) -> Job:
        """Change the given fields of a job (progress, stage, status, error, results);
        also a heartbeat."""
        if status is not None and status not in JOB_STATUSES:
            raise ValueError(f"job status must be one of {JOB_STATUSES}, got {status!r}")
        with self.transaction() as s:
            row = get_row(s, JobRow, job_id, "job")
            if status is not None:
                row.status = status
                if status == "running" and row.started_at is None:
                    row.started_at = utcnow()
            if done is not None:
                row.done = int(done)
            if total is not None:
                row.total = int(total)
            if stage is not None:
                row.stage = stage
            if error is not None:
                row.error = error
            if result_node_ids is not None:
                row.result_node_ids = [str(n) for n in result_node_ids]
            if kind is not None:
                row.kind = kind
            if request is not None:
                row.request = json_copy(request, "request")
            row.updated_at = row.heartbeat_at = utcnow()
        return job_record(row)

    def start_job(self, job_id: str) -> Job | None:
        """queued -> running, atomically: the caller now runs the job. None when the job is
        not queued any more (another worker took it, it was cancelled or interrupted)."""
        now = utcnow()
        host, pid, started = owners.me()
        with self.transaction() as s:
            res = s.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.status == "queued",
                                     JobRow.cancel_requested.is_(False))
                .values(status="running", worker=worker_name(), heartbeat_at=now, updated_at=now,
                        started_at=now, owner_host=host, owner_pid=pid, owner_started=started))
            if res.rowcount != 1:
                return None
        return self.get_job(job_id)

    def delete_job(self, job_id: str) -> None:
        """Remove a job that never ran (a claim given back)."""
        with self.transaction() as s:
            s.execute(delete(JobRow).where(JobRow.id == job_id, JobRow.status == "queued"))

    def heartbeat(self, job_ids: Iterable[str],
                  statuses: Sequence[str] = JOB_ACTIVE) -> dict[str, bool]:
        """Refresh the heartbeat of the given jobs that have one of `statuses` (the
        submitter of a queued job beats only while it is queued, its runner while it
        runs); returns {job id: cancel requested} for them (a job missing has moved on)."""
        ids = list(job_ids)
        if not ids:
            return {}
        now = utcnow()
        with self.transaction() as s:
            s.execute(update(JobRow).where(JobRow.id.in_(ids), JobRow.status.in_(statuses))
                      .values(heartbeat_at=now))
            rows = s.execute(select(JobRow.id, JobRow.cancel_requested).where(
                JobRow.id.in_(ids), JobRow.status.in_(statuses)))
            return {i: bool(c) for i, c in rows}

    def request_cancel(self, job_id: str) -> bool:
        """Ask an active job to stop; its runner checks the flag between model calls. A
        queued job that nobody runs yet, or a stale one, is cancelled at once. False when
        the job had already ended."""
        now = utcnow()
        with self.transaction() as s:
            row = get_row(s, JobRow, job_id, "job")
            if row.status not in JOB_ACTIVE:
                return False
            row.cancel_requested = True
            row.updated_at = now
            if self._abandoned(s, row, now):
                row.status = "cancelled"
        return True

    def get_job(self, job_id: str) -> Job:
        with self.reading() as s:
            row = get_row(s, JobRow, job_id, "job")
            return job_record(row)

    def list_jobs(
        self, conversation_id: str | None = None, status: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first; optionally of one conversation and/or with given statuses
        (e.g. status=("queued", "running") for the active ones)."""
        q = select(JobRow)
        if conversation_id is not None:
            q = q.where(JobRow.conversation_id == conversation_id)
        if status is not None:
            q = q.where(JobRow.status.in_([status] if isinstance(status, str) else list(status)))
        q = q.order_by(JobRow.created_at.desc(), JobRow.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self.reading() as s:
            return [job_record(r) for r in s.scalars(q)]

    def followers(self, job_id: str) -> list[Job]:
        """Queued jobs waiting for this one (queued behind it), oldest first."""
        job = self.get_job(job_id)
        if job.conversation_id is None:
            return []
        return [j for j in reversed(self.list_jobs(job.conversation_id, status="queued"))
                if j.after_job == job_id]

    def is_stale(self, job: Job) -> bool:
        """An active job nobody owns any more: its heartbeat stopped, or its process on
        this machine is gone (and it is not a job queued behind a live one)."""
        if not (job.active and (self._stale(job, utcnow())
                                or (job.owner is not None and owners.gone(*job.owner)))):
            return False
        with self.reading() as s:
            row = s.get(JobRow, job.id)
            return row is not None and self._abandoned(s, row, utcnow())

    def end_job(self, job_id: str, status: str, *, error: str | None = None,
                done: int | None = None, total: int | None = None,
                result_node_ids: Sequence[str] | None = None,
                message: Said | None = None) -> tuple[Job, Message | None] | None:
        """End an active job and tell the chat, in one transaction: its final state and the
        assistant's message about it (meta {"job": id}) are stored together or not at
        all. None when the job had already ended (another process ended or interrupted
        it): nothing is written."""
        if status not in JOB_STATUSES or status in JOB_ACTIVE:
            raise ValueError(f"a job ends as done, failed or cancelled, not {status!r}")
        now = utcnow()
        values = {"status": status, "stage": "", "updated_at": now, "heartbeat_at": now}
        if error is not None:
            values["error"] = error
        if done is not None:
            values["done"] = int(done)
        if total is not None:
            values["total"] = int(total)
        if result_node_ids is not None:
            values["result_node_ids"] = [str(n) for n in result_node_ids]
        msg = None
        with self.transaction() as s:
            self._lock_conversation(s, s.scalar(select(JobRow.conversation_id).where(
                JobRow.id == job_id)))
            res = s.execute(update(JobRow).where(JobRow.id == job_id,
                                                 JobRow.status.in_(JOB_ACTIVE)).values(**values))
            if res.rowcount != 1:
                return None
            row = s.get(JobRow, job_id)
            s.refresh(row)
            if message is not None and row.conversation_id is not None:
                msg = self._tell(s, row, message)
        return job_record(row), msg

    def _tell(self, s, row: JobRow, said: Said):
        from storage.messages import _message

        m = self._insert_message(s, row.conversation_id, "assistant", said["text"],
                                 node_ids=said.get("node_ids", ()),
                                 kind=said.get("kind", "text"), meta={"job": row.id})
        s.flush()
        return _message(m)

    def interrupt_stale_jobs(self, conversation_id: str | None = None,
                             tell: Callable[[Job], Said | None] | None = None) -> list[Job]:
        """Mark failed (error "interrupted: ...") the active jobs nobody owns any more
        (heartbeat older than stale_s, or owner process gone from this machine); returns
        them. Each job is returned by one caller only, so two processes reaping at once
        do not both report it. tell(job): the assistant's message about it, stored in the
        same transaction (its node_ids become the job's results); also told then: jobs
        interrupted earlier without a teller (create_job's, stage UNTOLD)."""
        now = utcnow()
        cutoff = now - timedelta(seconds=self.stale_s)
        q = select(JobRow).where(
            (JobRow.status.in_(JOB_ACTIVE) & (JobRow.heartbeat_at.is_(None)
                                              | (JobRow.heartbeat_at < cutoff)
                                              | (JobRow.owner_host == owners.machine())))
            | ((JobRow.status == "failed") & (JobRow.stage == UNTOLD)))
        if conversation_id is not None:
            q = q.where(JobRow.conversation_id == conversation_id)
        return self._interrupt(q, tell, now, abandoned_only=True)

    def interrupt_jobs(self, job_ids: Iterable[str],
                       tell: Callable[[Job], Said | None] | None = None) -> list[Job]:
        """Mark failed (error "interrupted: ...") those of the given jobs that are still
        active, now: their owner is stopping politely. Returns them; like
        interrupt_stale_jobs, each job to one caller only, told in the same transaction."""
        ids = list(job_ids)
        if not ids:
            return []
        q = select(JobRow).where(JobRow.id.in_(ids), JobRow.status.in_(JOB_ACTIVE))
        return self._interrupt(q, tell, utcnow(), abandoned_only=False)

    def _interrupt(self, query, tell, now, *, abandoned_only: bool) -> list[Job]:
        found = []
        with self.transaction() as s:
            rows = sorted(s.scalars(query), key=lambda r: (r.conversation_id or "", r.id))
            for row in rows:
                if row.status in JOB_ACTIVE:
                    if abandoned_only and not self._abandoned(s, row, now):
                        continue
                    which = JobRow.status.in_(JOB_ACTIVE)
                    values = {"status": "failed", "error": INTERRUPTED, "updated_at": now,
                              "stage": "" if tell is not None else UNTOLD}
                elif tell is None:
                    continue
                else:
                    which, values = JobRow.stage == UNTOLD, {"stage": ""}
                self._lock_conversation(s, row.conversation_id)
                res = s.execute(update(JobRow).where(JobRow.id == row.id, which)
                                .values(**values))
                if res.rowcount == 1:
                    found.append(row.id)
                    s.refresh(row)  # a job queued behind it reads its new status
                    said = tell(job_record(row)) if tell is not None else None
                    if said is not None and row.conversation_id is not None:
                        row.result_node_ids = [str(n) for n in said.get("node_ids", ())]
                        row.error = said.get("error", row.error)
                        self._tell(s, row, said)
        return [self.get_job(i) for i in found]

    def mark_sent(self, job_id: str, broker: str | None) -> None:
        """The job's id was handed to the broker (`broker`: its run id): from now on no
        process owns the job until a worker takes it; the heartbeat still counts."""
        with self.transaction() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "queued")
                      .values(sent_at=utcnow(), sent_to=broker, owner_host=None,
                              owner_pid=None, owner_started=None))

    def jobs_to_send(self, job_ids: Iterable[str], broker: str) -> list[Job]:
        """Of these jobs, the queued ones ready for the broker (planned, the one before
        them ended) that it does not hold: never sent, or sent to a broker that has
        restarted since (`broker` is its run id now)."""
        ids = list(job_ids)
        if not ids:
            return []
        out = []
        with self.reading() as s:
            rows = s.scalars(select(JobRow).where(JobRow.id.in_(ids), JobRow.status == "queued"))
            for row in rows:
                if (row.request or {}).get("claim") or row.stage == "planning" or \
                        row.sent_to == broker:
                    continue
                after = (row.request or {}).get("after_job")
                prev = s.get(JobRow, after) if after else None
                if prev is None or prev.status not in JOB_ACTIVE:
                    out.append(job_record(row))
        return out

    @staticmethod
    def _lock_conversation(s, conversation_id: str | None) -> None:
        """Writers that change a job and its conversation lock the conversation first, as
        create_job does (one order: no deadlock between them on PostgreSQL)."""
        if conversation_id is not None:
            s.execute(select(ConversationRow.id).where(
                ConversationRow.id == conversation_id).with_for_update())

    def _abandoned(self, s, row: JobRow, now) -> bool:
        """Nobody owns this active job any more: its heartbeat stopped or its process on
        this machine is gone; except a complete job queued behind one that is still
        owned (the runner of that one sends it when it ends)."""
        seen = set()
        while True:
            if not (self._stale(row, now) or owners.gone(row.owner_host, row.owner_pid,
                                                         row.owner_started)):
                return False
            request = row.request or {}
            after = request.get("after_job")
            if (row.status != "queued" or request.get("claim") or row.stage == "planning"
                    or not after or after in seen):
                return True
            seen.add(after)
            prev = s.get(JobRow, after)
            if prev is None or prev.status not in JOB_ACTIVE:
                return True
            row = prev  # it lives as long as the one before it does

    def _stale(self, row, now) -> bool:
        beat = row.heartbeat_at or row.updated_at
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=now.tzinfo)
        return beat is None or (now - beat).total_seconds() > self.stale_s

    @staticmethod
    def _interrupt_row(row: JobRow, now) -> None:
        row.status, row.error, row.updated_at, row.stage = "failed", INTERRUPTED, now, UNTOLD
