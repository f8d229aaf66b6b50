"""Jobs of the agent's executor, persisted so a page reload (or another process) finds
a running or finished edit. Part of `Store` (mixed in); the rows are in models.JobRow."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from storage.ids import get_row, json_copy, new_id, worker_name
from storage.models import JobRow, utcnow
from storage.records import JOB_ACTIVE, JOB_STATUSES, Job


def job_record(row: JobRow) -> Job:
    return Job(
        id=row.id, conversation_id=row.conversation_id, kind=row.kind, status=row.status,
        done=row.done, total=row.total, stage=row.stage, error=row.error,
        request=dict(row.request or {}), result_node_ids=tuple(row.result_node_ids or ()),
        worker=row.worker, created_at=row.created_at, updated_at=row.updated_at,
    )


class JobQueries:
    """The job methods of `Store` (it provides transaction(), reading() and _conv_row)."""

    def create_job(
        self, kind: str, request: dict | None = None, conversation_id: str | None = None, *,
        total: int = 0, stage: str = "",
    ) -> Job:
        """A queued job owned by this process (worker = host:pid)."""
        now = utcnow()
        row = JobRow(
            id=new_id(), conversation_id=conversation_id, kind=kind, status="queued", done=0,
            total=int(total), stage=stage, error=None,
            request=json_copy(request or {}, "request"),
            result_node_ids=[], worker=worker_name(), created_at=now, updated_at=now,
        )
        with self.transaction() as s:
            if conversation_id is not None:
                self._conv_row(s, conversation_id)
            s.add(row)
        return job_record(row)

    def update_job(
        self, job_id: str, *, status: str | None = None, done: int | None = None,
        total: int | None = None, stage: str | None = None, error: str | None = None,
        result_node_ids: Sequence[str] | None = None,
    ) -> Job:
        """Change the given fields of a job (progress, stage, status, error, results)."""
        if status is not None and status not in JOB_STATUSES:
            raise ValueError(f"job status must be one of {JOB_STATUSES}, got {status!r}")
        with self.transaction() as s:
            row = get_row(s, JobRow, job_id, "job")
            if status is not None:
                row.status = status
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
            row.updated_at = utcnow()
        return job_record(row)

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

    def fail_orphaned_jobs(self) -> list[Job]:
        """Mark failed the queued/running jobs whose worker process (on this host) is gone,
        e.g. after a crash; returns them. Jobs of live processes are left alone."""
        host = socket.gethostname()
        stale = []
        for job in self.list_jobs(status=JOB_ACTIVE):
            worker_host, _, pid = (job.worker or "").rpartition(":")
            if worker_host != host or not pid.isdigit() or _alive(int(pid)):
                continue
            stale.append(
                self.update_job(
                    job.id, status="failed",
                    error="interrupted: the process running this job stopped",
                )
            )
        return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
