"""A conversation held while one message is answered.

    with executor.claim(conversation_id) as claim:   # storage.ConversationBusy when taken
        ...plan, move the head...
        claim.submit(spec)                           # the reservation becomes the job

The claim is a queued job row created under a row lock on the conversation (storage
decides, atomically), so one chain of jobs per conversation holds across tabs,
processes and app servers. A claim that became no job is given back when the block ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.jobs.spec import JobSpec


@dataclass
class Claim:
    """The reservation `id` of conversation `conversation_id`. behind: (job id, spec) of the
    conversation's last unfinished job when it was taken: an edit queues behind it."""

    executor: object = field(repr=False)
    id: str
    conversation_id: str
    behind: tuple[str, JobSpec] | None = None
    job_id: str | None = None  # set by submit: the job the reservation became

    def submit(self, spec: JobSpec, prepare: Callable[[JobSpec], None] | None = None) -> str:
        """Hand the job to the executor under this reservation; returns the job's id."""
        if self.job_id is not None:
            raise RuntimeError("a claim becomes one job only")
        self.job_id = self.executor.submit(spec, prepare=prepare, job_id=self.id)
        return self.job_id

    def __enter__(self) -> Claim:  # noqa: PYI034 - a dataclass, not subclassed
        return self

    def __exit__(self, *exc) -> None:
        if self.job_id is None:
            self.executor.release(self.id)
