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

The chat is a tree of messages: a head move (undo, rollback, branch switch, a click)
continues the chat under the message that made the target image, so messages()
shows the branch that leads to the current image. What the agent must remember lives
in columns, not in chat text: each message's kind and meta, the conversation's edit
settings, a caption given after an upload (on the node).

User text is data: no message can delete anything or touch files. Deleting a
conversation is only delete(conversation_id), a separate call for the UI.

The calls live where they belong: conversations and settings (agent/conversations.py),
send and the small intents (agent/dispatch.py), uploads and late captions
(agent/upload_flow.py), edits and generations (agent/submit.py), head moves
(agent/head.py), what the page renders (agent/views.py), jobs (agent/jobs.py).
"""

from __future__ import annotations

from agent.chat.conversations import Conversations, shared_store
from agent.chat.dispatch import Dispatch
from agent.chat.head_moves import HeadMoves
from agent.chat.job_calls import JobQueries
from agent.chat.submit import Submit
from agent.chat.upload_flow import UploadFlow
from agent.chat.views import PageViews
from agent.jobs.executor import make_executor
from agent.jobs.recovery import ResumeFlow
from agent.planning.llm import make_planner
from agent.planning.offline import OfflinePlanner
from mtedit.settings import Settings


class ChatSession(Conversations, Dispatch, UploadFlow, Submit, HeadMoves, PageViews,
                  JobQueries, ResumeFlow):
    """A conversation with the agent over the store, a backend and an executor."""

    def __init__(self, settings: Settings, store, planner, executor):
        self._settings = settings
        self.store = store
        self.planner = planner
        self.executor = executor
        self.planner_note = ""
        self._cid: str | None = None
        self._redo_hint: dict[str, str] = {}
        self._claim: str | None = None  # this session's reservation of the conversation

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
        Store.from_settings(settings)). backend: a FluxBackend, or None to load
        settings.model lazily on the first image job. planner: a planner (default
        from settings: OfflinePlanner, or an LLMPlanner falling back to it; a broken
        LLM configuration falls back too, see `planner_note`). executor: an
        agent.jobs.executor.Executor (default: the process-wide one for this store, or the
        Celery queue when settings.queue_url is set: agent.jobs.celery_queue).
        conversation_id: continue that conversation; None continues none (call
        new_conversation or send, which starts one).
        """
        settings = settings or Settings.from_env()
        if store is None:
            store = shared_store(settings)
        session = cls(settings, store, None, None)
        session.planner = planner if planner is not None else session._build_planner(settings)
        session.executor = executor or make_executor(store, settings, backend)
        if conversation_id is not None:
            session.switch(conversation_id)
        return session

    def _build_planner(self, settings: Settings):
        try:
            return make_planner(settings)
        except Exception as exc:  # noqa: BLE001 - a broken LLM setup must not stop the app
            self.planner_note = (f"The LLM planner is not available ({exc}); "
                                 "using the offline planner.")
            return OfflinePlanner()
