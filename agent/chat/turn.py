"""One message being answered: what its handlers are handed, and how they reply.

A Turn holds the store, the conversation, the user's words, the planner and the
executor, the conversation's edit settings as the message found them, and, for a message
that may start a job or move the head, the conversation's claim (agent/jobs/claim.py).
The handlers (dispatch, submit, head_moves, upload_flow) are functions of a Turn: what
they use is in it, nothing travels as hidden state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.chat.views import Reply
from agent.jobs.claim import Claim
from agent.jobs.spec import JobSpec
from agent.jobs.view import JobView, active_job
from agent.planning.params import EditSettings
from mtedit.settings import Settings

HOW_TO_ANSWER = ("Say the number (or \"that one\" for the first); anything else is read as a "
                 "new message. Nothing was changed.")


@dataclass(frozen=True)
class Turn:
    store: object
    conversation_id: str
    text: str  # the message as sent (stripped)
    wait: bool  # run an edit to its end before replying
    planner: object
    executor: object
    edit_settings: EditSettings  # the conversation's, when the message came
    settings: Settings
    claim: Claim | None = None
    region: dict | None = None  # what the user marked on the image (JobSpec.region)

    def say(self, reply_text: str, kind: str, *, user_text: str | None = None,
            node_ids: Sequence[str] = (), parent_id: str | None = None, plan=None,
            notes: Sequence[str] = (), meta: dict | None = None) -> Reply:
        """Store (the user message and) the assistant reply; return the Reply."""
        cid = self.conversation_id
        if user_text is not None:
            parent_id = self.store.add_message(cid, "user", user_text, parent_id).id
        full = "\n".join([reply_text, *notes])
        msg = self.store.add_message(cid, "assistant", full, parent_id,
                                     node_ids=list(node_ids), kind=kind, meta=meta)
        return Reply(text=full, kind=kind, node_ids=tuple(node_ids), plan=plan,
                     message_id=msg.id, notes=tuple(notes))

    def ask(self, question: str, choices: list[dict], *, user_text: str | None) -> Reply:
        """A question with numbered choices instead of an action; the choices are stored in
        the message's meta (agent/chat/clarify.py reads the answer against them)."""
        lines = [question, *(f"{i}. {c['say']}" for i, c in enumerate(choices, 1)),
                 HOW_TO_ANSWER if choices else "Nothing was changed."]
        meta = {"choices": choices} if choices else None
        if meta and self.region:  # the box or mask marked for the edit asked about
            meta["region"] = self.region
        return self.say("\n".join(lines), "ask", user_text=user_text, meta=meta)

    def behind(self) -> tuple[str, JobSpec] | None:
        """The conversation's last unfinished job (an edit queues behind it), if any."""
        if self.claim is not None:
            return self.claim.behind
        return self.executor.last_queued(self.conversation_id)

    def busy(self) -> Reply | None:
        """An error reply while an edit of the conversation runs (head moves wait). Within
        a claim, stale jobs were reaped when it was taken."""
        job = active_job(self.executor, self.store, self.conversation_id,
                         claim=self.claim.id if self.claim else None,
                         reap_first=self.claim is None)
        return None if job is None else busy_reply(job)

    def submit(self, spec: JobSpec, prepare=None) -> str:
        """Hand the job to the executor: under the claim (the reservation becomes the job),
        or on its own."""
        if self.claim is not None:
            return self.claim.submit(spec, prepare)
        return self.executor.submit(spec, prepare=prepare)


def busy_reply(job: JobView) -> Reply:
    """An edit of the conversation is running (here or in another process)."""
    where = f"step {job.step} of {job.steps}, " if job.steps > 1 else ""
    pct = f"{100 * job.done // job.total}%" if job.total else job.status
    return Reply(text=f"An edit is still running ({where}{pct}); wait for it to finish or "
                 "cancel it first.", kind="error", job_id=job.id)


def ask_meta(node_id: str, instruction: str | None, once: dict | None = None,
             region: dict | None = None) -> dict:
    """The meta of an "ask" message: which image needs a caption, what edit waits for it
    (and the settings given for that edit alone, and the region marked for it, when there
    are any)."""
    meta = {"caption_for": node_id, "instruction": instruction or ""}
    if region:
        meta["region"] = region
    return {**meta, "once": dict(once)} if once else meta
