"""ChatSession: the scripting API of the conversation; the UI and the tests drive the same object.

    session = ChatSession.open(Settings.from_env())
    session.new_conversation("portrait")
    replies = session.send("a photo of a woman in a park", files=["me.jpg"])
    replies = session.send("make it more vintage")          # plan -> chained edit nodes
    replies = session.send("go back to before the grain")   # the head moves; nothing is deleted
    png = session.image_bytes(session.head_id())

A session is built from the components it is handed, the way a diffusers pipeline holds
its models: the settings, the store (agent talks to storage only through it), the
planner (agent/planning) and the executor that runs jobs (agent/jobs). open() builds
the usual ones. One message walks down the rooms once: the text is read (agent/reading:
cleaned once, its intent), the conversation is claimed (agent/jobs: stale jobs reaped
once, a reservation taken), the handler of its kind plans (agent/planning) and submits
the job under that claim; the read side builds views from the store.

Threading: one ChatSession per browser session (or script). Edits run on the
process's one executor (a worker thread, or Celery workers); with send(..., wait=False)
the reply carries a job_id, and job(job_id) / active_job() report progress. The executor
writes the result nodes and the assistant's result message to the store, so a new
ChatSession (a page reload) sees them.

The chat is a tree of messages: a head move (undo, rollback, branch switch, a click)
continues the chat under the message that made the target image, so messages() shows
the branch that leads to the current image. What the agent must remember lives in
columns, not in chat text: each message's kind and meta, the conversation's edit
settings, a caption given after an upload (on the node).

User text is data: no message can delete anything or touch files. Deleting a
conversation is only delete(conversation_id), a separate call for the UI.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from agent.chat import (
    clarify,
    conversations,
    dispatch,
    doubt,
    head_moves,
    retry,
    submit,
    upload_flow,
    views,
)
from agent.chat.marking import mark
from agent.chat.turn import Turn, busy_reply
from agent.chat.views import ConversationView, MessageView, NodeView, Reply
from agent.jobs import recovery
from agent.jobs.shared import make_executor
from agent.jobs.view import JobView, active_job, job_state
from agent.lineage import nav_limits
from agent.planning.llm import make_planner
from agent.planning.offline import OfflinePlanner
from agent.planning.params import EditSettings
from agent.reading.intents import RESUME, TRY_AGAIN, parse_intent, sounds_like_navigation
from agent.reading.uploads import read_upload
from agent.reading.validate import message_problem
from mtedit.settings import Settings
from storage import ConversationBusy

# An upload: a path, or (filename, bytes) as Streamlit's UploadedFile gives them.
Upload = str | Path | tuple[str, bytes]
MAX_MESSAGE = 4000  # characters


def planner_for(settings: Settings) -> tuple[object, str]:
    """(planner, note): the settings' planner, or the offline one and why, when the LLM
    planner is not available (a broken LLM setup must not stop the app)."""
    try:
        return make_planner(settings), ""
    except Exception as exc:  # noqa: BLE001
        return OfflinePlanner(), (f"The LLM planner is not available ({exc}); "
                                  "using the offline planner.")


class ChatSession:
    """A conversation with the agent over its components: settings, store, planner, executor."""

    def __init__(self, settings: Settings, store, planner, executor, planner_note: str = ""):
        self._settings = settings
        self.store = store
        self.planner = planner
        self.executor = executor
        self.planner_note = planner_note
        self._cid: str | None = None
        self._redo_hint: dict[str, str] = {}  # conversation -> the branch tip an undo left

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        conversation_id: str | None = None,
        *,
        store=None,
        backend=None,
        planner=None,
        executor=None,
    ) -> ChatSession:
        """Open a session with the usual components.

        settings: None reads Settings.from_env(). store: a storage.Store (default: one per
        database in the process, conversations.shared_store). backend: a FluxBackend, or
        None to load settings.model lazily on the first image job. planner: a planner
        (default from settings: OfflinePlanner, or an LLMPlanner falling back to it; a
        broken LLM configuration falls back too, see `planner_note`). executor: an
        agent.jobs.executor.Executor (default: the process-wide one for this store, or
        the Celery queue when settings.queue_url is set: agent.jobs.shared).
        conversation_id: continue that conversation; None continues none (call
        new_conversation or send, which starts one).
        """
        settings = settings or Settings.from_env()
        store = store if store is not None else conversations.shared_store(settings)
        note = ""
        if planner is None:
            planner, note = planner_for(settings)
        session = cls(settings, store, planner,
                      executor or make_executor(store, settings, backend), note)
        if conversation_id is not None:
            session.switch(conversation_id)
        return session

    # -- one message -------------------------------------------------------------------

    def send(self, text: str, files: Sequence[Upload] = (), wait: bool = True,
             region=None) -> list[Reply]:
        """Handle one user message; returns the assistant's replies (usually one).

        The intent is read from the text (and files): uploads (several allowed; the
        first is the base unless the text names another, e.g. "edit the second one";
        the text is the caption, or the agent asks for one), generate ("generate /
        draw / create an image of ..."), edit (anything else once there is an
        image), rollback ("undo", "go back to before the hat", "back to turn 2",
        "the original"), redo, branch switch ("switch branch", "switch to the
        branch with the scarf"), history ("show the history"), a setting ("use 15
        steps", "be subtler", "use rf_solver"), or a question. "go back to before
        the hat and try a scarf" moves the head, then edits from there.

        wait=True runs an edit to the end and returns a kind="edit" reply with the
        new node ids. wait=False queues it and returns at once with a
        kind="queued" reply carrying job_id; poll job(job_id). An edit sent while
        another edit of the conversation runs is queued behind it (planned from the
        caption that edit ends with); moving the head waits until no edit runs.
        Failures come back as kind="error" replies with a readable text, never as
        exceptions (except programming errors).

        region: where the edit may change the current image, as the user marked it: a box
        (x0, y0, x1, y1) in its pixels or a mask (PNG bytes, PIL image, array); it comes
        before region words and the automatic region (agent/jobs/regions.py).
        """
        text = (text or "").strip()
        if len(text) > MAX_MESSAGE:
            return [Reply(text=f"That message is too long (over {MAX_MESSAGE} characters); "
                          "please shorten it.", kind="error")]
        # "2" answering the chat's numbered question is an answer, not a stray number
        answer = self._cid is not None and not files and re.fullmatch(r"#?\d", text) and \
            clarify.pending(self.store, self._cid) is not None
        if not answer and (problem := message_problem(text)):  # giant words, hostile text,
            return [Reply(text=problem, kind="error")]          # numbers out of range
        if problem := nav_limits.problem(text, self.store, self._cid):  # "back to turn -1"
            return [Reply(text=problem, kind="error")]
        marked = None
        if region is not None and files:
            return [Reply(text="A region marked on the current image cannot go with new "
                          "photos: send the photos first, then mark on the one to edit.",
                          kind="error")]
        if region is not None:  # checked before anything is stored
            try:
                marked = mark(self.store.head(self._cid) if self._cid else None, region)
            except ValueError as exc:
                return [Reply(text=str(exc), kind="error")]
        if self._cid is None:
            self.new_conversation(conversations.title_from(text, files))
        elif conversations.untitled(self.store, self._cid):  # its first request names it
            self.store.rename_conversation(self._cid, conversations.title_from(text, files))
        turn = dataclasses.replace(self._turn(text, wait), region=marked)
        try:
            uploads = [read_upload(f) for f in files]
        except ValueError as exc:
            return [turn.say(f"I could not use that file: {exc}", "error", user_text=text)]
        head = self.store.head(self._cid)
        asked = clarify.pending(self.store, self._cid) if not uploads else None
        chosen = clarify.pick(text, asked["choices"]) if asked else None
        if chosen is not None:  # the answer to the question the chat asked last
            if asked.get("region") and turn.region is None:  # marked with the question's message
                turn = dataclasses.replace(turn, region=asked["region"])
            return self._claimed(turn, lambda t: clarify.follow(t, asked["choices"][chosen]))
        if not uploads and TRY_AGAIN.fullmatch(text) and \
                (last := retry.last_result(self.store, self._cid)) is not None:
            return self.try_again(last, wait=wait)  # as the button under the result
        intent = parse_intent(text, len(uploads), head is not None)
        if head is not None and intent.kind in ("edit", "question") and \
                sounds_like_navigation(text):
            intent = dispatch.llm_reading(self.planner, self.store, intent, text, head)
        resume = RESUME.fullmatch(text) is not None and not uploads
        if not resume and (reply := doubt.misread(turn, intent, head)) is not None:
            return [reply]
        pending = (upload_flow.pending_caption(self.store, head)
                   if intent.kind in ("edit", "generate", "question") and not uploads else None)
        if not resume and pending is None and intent.kind not in dispatch.CLAIMED:
            return dispatch.answer(turn, intent, uploads, self._redo_hint, head is not None)
        try:
            with self.executor.claim(self._cid) as claim:
                turn = dataclasses.replace(turn, claim=claim)
                if resume and (job := recovery.resumable(self.store, self._cid)) is not None:
                    return submit.resume(turn, job)
                if pending is not None:
                    return upload_flow.caption_given(turn, intent.text or text, pending)
                return dispatch.answer(turn, intent, uploads, self._redo_hint,
                                       head is not None)
        except ConversationBusy as exc:
            return [busy_reply(self.job(exc.job.id))]

    def _claimed(self, turn: Turn, act) -> list[Reply]:
        try:
            with self.executor.claim(self._cid) as claim:
                return act(dataclasses.replace(turn, claim=claim))
        except ConversationBusy as exc:
            return [busy_reply(self.job(exc.job.id))]

    def set_head(self, node_id: str) -> Reply:
        """Rollback by click: the head moves to node_id (a node of this conversation);
        the next edit branches from it. Stores a short assistant note in the chat."""
        node = views.own_node(self.store, self._cid, node_id)
        try:
            with self.executor.claim(self._require()) as claim:
                return head_moves.click(dataclasses.replace(self._turn("", True), claim=claim),
                                        node)
        except ConversationBusy as exc:
            return busy_reply(self.job(exc.job.id))

    def try_again(self, message_id: str, wait: bool = False) -> list[Reply]:
        """Make the result of an assistant's message once more: the same steps from the same
        image with another seed (the earlier result stays, as a sibling)."""
        try:
            with self.executor.claim(self._require()) as claim:
                turn = dataclasses.replace(self._turn("", wait), claim=claim)
                return retry.try_again(turn, message_id)
        except ConversationBusy as exc:
            return [busy_reply(self.job(exc.job.id))]

    def _turn(self, text: str, wait: bool) -> Turn:
        return Turn(self.store, self._require(), text, wait, self.planner, self.executor,
                    self.edit_settings, self._settings)

    def _require(self) -> str:
        if self._cid is None:
            raise RuntimeError("no current conversation: call new_conversation() or switch()")
        return self._cid

    # -- conversations and settings ----------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        """The current conversation (None before the first one is started)."""
        return self._cid

    def new_conversation(self, title: str | None = None) -> str:
        """Start an empty conversation, make it current, return its id."""
        self._cid = conversations.new_conversation(self.store, title)
        return self._cid

    def start_fresh(self, title: str | None = None) -> str:
        """A conversation to start something new in, made current: this one when it is
        still empty (renamed to `title` when given), else a new one."""
        if self._cid is not None and conversations.is_empty(self.store, self._cid):
            if title is not None:
                self.store.rename_conversation(self._cid, title)
            return self._cid
        return self.new_conversation(title)

    def discard_if_empty(self, conversation_id: str | None = None) -> bool:
        """Delete the conversation (the current one by default) when nothing is in it, as
        when the user leaves it; True when it was deleted."""
        cid = conversation_id or self._cid
        if cid is None:
            return False
        try:
            if not conversations.is_empty(self.store, cid):
                return False
            self.delete(cid)
        except LookupError:  # gone already (another tab)
            return False
        return True

    def conversations(self) -> list[ConversationView]:
        """All conversations, most recently updated first."""
        return conversations.conversations(self.store)

    def switch(self, conversation_id: str) -> None:
        """Make another conversation current (KeyError if there is none with that id)."""
        self._cid = conversations.check_exists(self.store, conversation_id)

    def rename(self, title: str, conversation_id: str | None = None) -> None:
        """Rename the current (or the given) conversation."""
        self.store.rename_conversation(conversation_id or self._require(),
                                       title.strip() or "Untitled")

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages, nodes and jobs (blobs shared with
        others stay). If it was current, no conversation is current afterwards."""
        conversations.delete(self.store, self.executor, conversation_id)
        if self._cid == conversation_id:
            self._cid = None

    def export_zip(self, conversation_id: str | None = None) -> bytes:
        """The conversation as a zip (rows as JSON + image and latent blobs)."""
        return conversations.export_zip(self.store, conversation_id or self._require())

    def import_zip(self, data: bytes) -> str:
        """Import a zip made by export_zip as a new conversation; returns its id."""
        return conversations.import_zip(self.store, data)

    @property
    def settings(self) -> Settings:
        """The application settings (model, device, planner ...)."""
        return self._settings

    @property
    def edit_settings(self) -> EditSettings:
        """The current conversation's edit overrides (preset, steps, guidance, eta,
        lam, stop, highlight, inject, seed, strength)."""
        return conversations.edit_settings(self.store, self._settings, self._cid)

    @property
    def default_edit_settings(self) -> EditSettings:
        """EditSettings' defaults, then the model folder's own measured ones."""
        return conversations.default_edit_settings(self._settings)

    def update_settings(self, **kw) -> EditSettings:
        """Change edit overrides (EditSettings fields; "lambda" is accepted for lam) and
        planner settings (planner, planner_model, planner_base_url, planner_api_key,
        planner_timeout: the planner is rebuilt). ValueError names a bad key or value.
        Edit overrides belong to the current conversation (one is started if needed)."""
        planner_keys = {k: kw.pop(k) for k in list(kw) if k.startswith("planner")}
        if planner_keys:
            self._settings = dataclasses.replace(self._settings, **planner_keys)
            self.planner, self.planner_note = planner_for(self._settings)
        if not kw:
            return self.edit_settings
        new = conversations.checked(self.edit_settings, **kw)
        if self._cid is None:
            self.new_conversation()
        return conversations.save_edit_settings(self.store, self._cid, new)

    # -- the read side (what the page renders) -----------------------------------------

    def messages(self) -> list[MessageView]:
        """The messages of the current chat branch, oldest first."""
        return views.messages(self.store, self._cid)

    def lineage(self) -> list[NodeView]:
        """All image nodes of the conversation (every branch), oldest first."""
        return views.lineage(self.store, self._cid)

    def head_id(self) -> str | None:
        """The id of the node the next edit starts from (None before any image)."""
        return views.head_id(self.store, self._cid)

    def node(self, node_id: str) -> NodeView:
        """One node of the current conversation (KeyError if unknown)."""
        return views.node(self.store, self._cid, node_id)

    def caption_of(self, node) -> str:
        """The node's caption (the prompt that describes it; "" for an upload still
        waiting for one)."""
        return node.caption

    def image_bytes(self, node_id: str) -> bytes:
        """The node's image as PNG bytes (DamagedImage, a ValueError naming what doctor
        would say, when its blob is missing or corrupt)."""
        return views.image_bytes(self.store, self._cid, node_id)

    def region_overlay(self, node_id: str, size: int = 384, *, of: str | None = None,
                       dim: float = 0.0, line: int | None = None) -> bytes | None:
        """A PNG (long side `size`) of the image of node `of` (default: the node itself)
        with the region the node's edit was limited to outlined (dim: darken the outside
        by that share; line: its width in pixels); None when its edit had no region or
        the mask cannot be read."""
        from agent.chat.overlay import overlay

        node = views.own_node(self.store, self._cid, node_id)
        try:
            mask = self.store.read_mask(node)
            if mask is None:
                return None
            return overlay(self.image_bytes(of or node_id), mask, size, dim, line)
        except (ValueError, OSError, LookupError):  # a damaged blob: shown without it
            return None

    def image_problem(self, node_id: str) -> str | None:
        """What doctor would say about the node's image, or None when it is intact."""
        return views.image_problem(self.store, self._cid, node_id)

    def thumbnail(self, node_id: str, size: int = 128) -> bytes:
        """A PNG thumbnail of the node's image, long side `size` pixels."""
        return views.thumbnail(self.image_bytes(node_id), size)

    # -- jobs --------------------------------------------------------------------------

    def active_job(self) -> JobView | None:
        """The current conversation's queued or running job, if any (a job nobody beats
        for any more is interrupted first)."""
        if self._cid is None:
            return None
        return active_job(self.executor, self.store, self._cid)

    def job(self, job_id: str) -> JobView:
        """A job's state (from the executor while this process runs it, else from the
        store; a job the store says was running in a process that died reads as
        status "interrupted")."""
        return job_state(self.executor, self.store, job_id)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (between model calls). Steps already
        finished keep their nodes. Returns False if the job had already finished."""
        return self.executor.cancel(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job ends (or timeout); returns its state."""
        return self.executor.wait(job_id, timeout) or self.job(job_id)
