"""ChatSession: the scripting API of the conversation; the UI and the tests drive the same object.

    session = ChatSession.open(Settings.from_env())
    session.new_conversation("portrait")
    replies = session.send("a photo of a woman in a park", files=["me.jpg"])
    replies = session.send("make it more vintage")          # plan -> chained edit nodes
    replies = session.send("go back to before the grain")   # the head moves; nothing is deleted
    png = session.image_bytes(session.head())

Threading: one ChatSession per browser session (or script). Edits run on the
process's one Executor (a worker thread); with send(..., wait=False) the reply
carries a job_id, and job(job_id) / active_job() report progress. The executor
writes the result nodes and the assistant's result message to the store, so a
new ChatSession (a page reload) sees them.

User text is data: no message can delete anything or touch files. Deleting a
conversation is only delete(conversation_id), a separate call for the UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.params import EditSettings
from agent.views import ConversationView, JobView, MessageView, NodeView, Reply
from mtedit.settings import Settings

# An upload: a path, or (filename, bytes) as Streamlit's UploadedFile gives them.
Upload = str | Path | tuple[str, bytes]


class ChatSession:
    """A conversation with the agent over the store, a backend and an executor."""

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
        """Open a session.

        settings: None reads Settings.from_env(). store: a storage.Store (default:
        Store.open(settings.db_url, data_dir=settings.data_dir)). backend: a
        FluxBackend, or None to load settings.model lazily on the first image
        job. planner: a Planner (default from settings: OfflinePlanner, or an
        LLMPlanner falling back to it). executor: an agent.executor.Executor
        (default: the process-wide one for this store and backend).
        conversation_id: continue that conversation; None continues none (call
        new_conversation or send, which starts one).
        """
        raise NotImplementedError

    # -- conversations ---------------------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        """The current conversation (None before the first one is started)."""
        raise NotImplementedError

    def new_conversation(self, title: str | None = None) -> str:
        """Start an empty conversation, make it current, return its id."""
        raise NotImplementedError

    def conversations(self) -> list[ConversationView]:
        """All conversations, most recently updated first."""
        raise NotImplementedError

    def switch(self, conversation_id: str) -> None:
        """Make another conversation current (KeyError if there is none with that id)."""
        raise NotImplementedError

    def rename(self, title: str, conversation_id: str | None = None) -> None:
        """Rename the current (or the given) conversation."""
        raise NotImplementedError

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages, nodes and jobs (blobs shared with
        others stay). If it was current, no conversation is current afterwards."""
        raise NotImplementedError

    def export_zip(self, conversation_id: str | None = None) -> bytes:
        """The conversation as a zip (rows as JSON + image and latent blobs)."""
        raise NotImplementedError

    def import_zip(self, data: bytes) -> str:
        """Import a zip made by export_zip as a new conversation; returns its id."""
        raise NotImplementedError

    # -- the chat --------------------------------------------------------------------

    def send(self, text: str, files: Sequence[Upload] = (), wait: bool = True) -> list[Reply]:
        """Handle one user message; returns the assistant's replies (usually one).

        The intent is read from the text (and files): uploads (several allowed; the
        first is the base unless the text names another, e.g. "edit the second one";
        the text is the caption, or the agent asks for one), generate ("generate /
        draw / create an image of ..."), edit (anything else once there is an
        image), rollback ("undo", "go back to before the hat", "back to turn 2",
        "the original"), redo, branch switch ("switch branch", "switch to the
        branch with the scarf"), history ("show the history"), a setting ("use 15
        steps", "be subtler", "use rf_solver"), or a question.

        wait=True runs an edit to the end and returns a kind="edit" reply with the
        new node ids. wait=False queues it and returns at once with a
        kind="queued" reply carrying job_id; poll job(job_id). Failures come back
        as kind="error" replies with a readable text, never as exceptions (except
        programming errors).
        """
        raise NotImplementedError

    # -- read side for the UI ----------------------------------------------------------

    def messages(self) -> list[MessageView]:
        """The messages of the current chat branch, oldest first."""
        raise NotImplementedError

    def lineage(self) -> list[NodeView]:
        """All image nodes of the conversation (every branch), oldest first."""
        raise NotImplementedError

    def head(self) -> str | None:
        """The node the next edit starts from (None before any image)."""
        raise NotImplementedError

    def node(self, node_id: str) -> NodeView:
        """One node of the current conversation (KeyError if unknown)."""
        raise NotImplementedError

    def image_bytes(self, node_id: str) -> bytes:
        """The node's image as PNG bytes."""
        raise NotImplementedError

    def thumbnail(self, node_id: str, size: int = 128) -> bytes:
        """A PNG thumbnail of the node's image, long side `size` pixels."""
        raise NotImplementedError

    def set_head(self, node_id: str) -> Reply:
        """Rollback by click: the head moves to node_id (a node of this conversation);
        the next edit branches from it. Stores a short assistant note in the chat."""
        raise NotImplementedError

    # -- jobs --------------------------------------------------------------------------

    def active_job(self) -> JobView | None:
        """The current conversation's queued or running job, if any."""
        raise NotImplementedError

    def job(self, job_id: str) -> JobView:
        """A job's state (from the executor while this process runs it, else from the
        store; a job the store says was running in a process that died reads as
        status "interrupted")."""
        raise NotImplementedError

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (between model calls). Steps already
        finished keep their nodes. Returns False if the job had already finished."""
        raise NotImplementedError

    # -- settings ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The application settings (model, device, planner ...)."""
        raise NotImplementedError

    @property
    def edit_settings(self) -> EditSettings:
        """The current conversation's edit overrides (preset, steps, guidance, eta,
        lam, stop, highlight, inject, seed, strength)."""
        raise NotImplementedError

    def update_settings(self, **kw) -> EditSettings:
        """Change edit overrides (EditSettings fields; "lambda" is accepted for lam) and
        planner settings (planner, planner_model, planner_base_url, planner_api_key,
        planner_timeout: the planner is rebuilt). ValueError names a bad key or value."""
        raise NotImplementedError
