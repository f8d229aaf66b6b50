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
shows the branch that leads to the current image. The agent's own notes (a caption
given after an upload, edit settings) are role "system" messages holding JSON, which
messages() leaves out.

User text is data: no message can delete anything or touch files. Deleting a
conversation is only delete(conversation_id), a separate call for the UI.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PIL import Image

from agent import lineage
from agent.executor import Executor, JobSpec
from agent.intents import Intent, Target, parse_intent
from agent.llm import LLMPlanner, make_planner
from agent.offline import OfflinePlanner
from agent.params import EditSettings, core_overrides, one_off_settings, shift_strength
from agent.plan import EditPlan
from agent.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, read_upload  # noqa: F401 (the UI)
from agent.views import (
    ConversationView,
    JobView,
    MessageView,
    NodeView,
    Reply,
    conversation_view,
    message_kind,
    node_view,
)
from editing_core.images import png_bytes
from mtedit.settings import Settings

# An upload: a path, or (filename, bytes) as Streamlit's UploadedFile gives them.
Upload = str | Path | tuple[str, bytes]


_NAV_HINT = re.compile(r"\b(?:before|back|earlier|previous|undo|revert|history|branch|version|"
                       r"turn|original|liked|prefer|preferred|again|redo|ago|nicer|better)\b",
                       re.IGNORECASE)
HELP = """I edit images over several turns and keep every version. You can:
- upload one or more images with a sentence saying what they show ("a dog on a beach");
- generate one: "generate a red circle on the left, on a green background";
- edit: "make the circle blue", "add a hat", "replace the dog with a cat", "remove the glasses",
  or a wish: "make it more vintage", "cinematic", "winter", "watercolor", "brighter";
- go back: "undo", "go back to before the hat", "back to turn 2", "the original", "redo",
  "switch branch", "switch to the branch with the scarf" (then edit again: a new branch);
- see the history: "show the history";
- change settings: "use 15 steps", "guidance 4", "use rf_solver", "be subtler", "seed 3"."""


_STORES: dict[tuple[str, str], object] = {}
_STORES_LOCK = threading.Lock()


def shared_store(settings: Settings):
    """One Store per database in the process (opened, migrated and cleaned once: jobs left
    running by a process that died are marked failed)."""
    from storage import Store

    key = (settings.db_url, str(settings.data_dir))
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store.from_settings(settings)
            store.fail_orphaned_jobs()
        return store


class _Record:
    """The agent's own notes in the message tree (role "system", JSON text): captions given
    after an upload, a pending instruction, edit settings. Hidden from messages()."""

    @staticmethod
    def dump(kind: str, **data) -> str:
        return json.dumps({"mtedit": kind, **data})

    @staticmethod
    def load(text: str) -> dict | None:
        try:
            data = json.loads(text)
        except (ValueError, TypeError):
            return None
        return data if isinstance(data, dict) and "mtedit" in data else None


class ChatSession:
    """A conversation with the agent over the store, a backend and an executor."""

    def __init__(self, settings: Settings, store, planner, executor):
        self._settings = settings
        self.store = store
        self.planner = planner
        self.executor = executor
        self._cid: str | None = None
        self._redo_hint: dict[str, str] = {}

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
        agent.executor.Executor (default: the process-wide one for this store).
        conversation_id: continue that conversation; None continues none (call
        new_conversation or send, which starts one).
        """
        settings = settings or Settings.from_env()
        if store is None:
            store = shared_store(settings)
        session = cls(settings, store, None, None)
        session.planner_note = ""
        if planner is None:
            planner = session._build_planner(settings)
        session.planner = planner
        session.executor = executor or Executor.shared(store, settings, backend)
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

    # -- conversations ---------------------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        """The current conversation (None before the first one is started)."""
        return self._cid

    def new_conversation(self, title: str | None = None) -> str:
        """Start an empty conversation, make it current, return its id."""
        self._cid = self.store.create_conversation(title or "New conversation").id
        return self._cid

    def conversations(self) -> list[ConversationView]:
        """All conversations, most recently updated first."""
        return [conversation_view(c) for c in self.store.list_conversations()]

    def switch(self, conversation_id: str) -> None:
        """Make another conversation current (KeyError if there is none with that id)."""
        from storage import NotFoundError

        try:
            self.store.get_conversation(conversation_id)
        except NotFoundError as exc:
            raise KeyError(conversation_id) from exc
        self._cid = conversation_id

    def rename(self, title: str, conversation_id: str | None = None) -> None:
        """Rename the current (or the given) conversation."""
        self.store.rename_conversation(conversation_id or self._require(), title.strip() or "Untitled")

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages, nodes and jobs (blobs shared with
        others stay). If it was current, no conversation is current afterwards."""
        self.executor.cancel_all(conversation_id)
        self.store.delete_conversation(conversation_id)
        if self._cid == conversation_id:
            self._cid = None

    def export_zip(self, conversation_id: str | None = None) -> bytes:
        """The conversation as a zip (rows as JSON + image and latent blobs)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "conversation.zip"
            self.store.export_conversation(conversation_id or self._require(), path)
            return path.read_bytes()

    def import_zip(self, data: bytes) -> str:
        """Import a zip made by export_zip as a new conversation; returns its id."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "conversation.zip"
            path.write_bytes(data)
            return self.store.import_conversation(path).id

    def _require(self) -> str:
        if self._cid is None:
            raise RuntimeError("no current conversation: call new_conversation() or switch()")
        return self._cid

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
        steps", "be subtler", "use rf_solver"), or a question. "go back to before
        the hat and try a scarf" moves the head, then edits from there.

        wait=True runs an edit to the end and returns a kind="edit" reply with the
        new node ids. wait=False queues it and returns at once with a
        kind="queued" reply carrying job_id; poll job(job_id). An edit sent while
        another edit of the conversation runs is queued behind it (planned from the
        caption that edit ends with); moving the head waits until no edit runs. Failures come back
        as kind="error" replies with a readable text, never as exceptions (except
        programming errors).
        """
        text = (text or "").strip()
        if len(text) > 4000:
            return [Reply("That message is too long (over 4000 characters); please shorten it.",
                          "error")]
        if self._cid is None:
            self.new_conversation(_title(text) if text else "New conversation")
        cid = self._cid
        try:
            uploads = [read_upload(f) for f in files]
        except ValueError as exc:
            return [self._say(f"I could not use that file: {exc}", "error", user_text=text)]
        head = self.store.head(cid)
        intent = parse_intent(text, len(uploads), head is not None)
        if head is not None and intent.kind in ("edit", "question") and _NAV_HINT.search(text):
            intent = self._llm_reading(intent, text, head)
        pending = self._pending_caption(cid, head)
        if pending is not None and intent.kind in ("edit", "generate", "question") and not uploads:
            return self._caption_given(intent.text or text, pending, text, wait)
        handler = {
            "empty": lambda: [Reply("Type a request, or attach an image.", "error")],
            "refuse": lambda: [self._say(
                "I can't delete or change stored history or files from the chat, so nothing "
                "was deleted. Every version stays available; to delete a whole conversation, "
                "use the conversation list.", "text", user_text=text)],
            "help": lambda: [self._say(HELP, "text", user_text=text)],
            "chat": lambda: [self._say(
                "Glad to help. Tell me the next change, or say \"undo\" or \"show the history\"."
                if head is not None else "Hello! Upload an image with a sentence saying what it "
                "shows, or ask me to generate one.", "text", user_text=text)],
            "upload": lambda: self._upload(intent, uploads, text, wait),
            "generate": lambda: self._generate(intent, text, wait),
            "edit": lambda: self._edit(intent.text, text, wait),
            "undo": lambda: self._navigate(intent, text, wait),
            "redo": lambda: self._navigate(intent, text, wait),
            "goto": lambda: self._navigate(intent, text, wait),
            "branch": lambda: self._navigate(intent, text, wait),
            "history": lambda: [self._say(self._history(), "history", user_text=text)],
            "setting": lambda: [self._setting(intent, text)],
            "question": lambda: [self._question(intent.text, text)],
        }[intent.kind]
        return handler()

    # -- intents -----------------------------------------------------------------------

    def _llm_reading(self, intent: Intent, text: str, head) -> Intent:
        """With an LLM configured, let it re-read a message that sounds like navigation but
        that the rules took for an edit or a question ("the one from two turns ago")."""
        if not isinstance(self.planner, LLMPlanner):
            return intent
        history = [n.instruction or n.caption for n in self.store.path(head.id)[1:]]
        choice = self.planner.classify(text, history)
        if choice is None or choice.intent in ("edit", "question"):
            return intent
        kinds = {"undo": "undo", "redo": "redo", "branch": "branch", "history": "history"}
        if choice.intent in kinds:
            target = Target("at", choice.words) if choice.intent == "branch" and choice.words \
                else None
            return Intent(kinds[choice.intent], intent.text, target=target)
        if choice.intent == "turn" and choice.turn is not None:
            return Intent("goto", intent.text, target=Target("turn", number=choice.turn))
        if choice.intent == "original":
            return Intent("goto", intent.text, target=Target("original"))
        if choice.intent in ("before", "at") and choice.words.strip():
            return Intent("goto", intent.text, target=Target(choice.intent, choice.words))
        return intent

    def _say(self, reply_text: str, kind: str, *, user_text: str | None = None,
             node_ids: Sequence[str] = (), parent_id: str | None = None, plan=None,
             notes: Sequence[str] = ()) -> Reply:
        """Store (the user message and) the assistant reply; return the Reply."""
        cid = self._require()
        if user_text is not None:
            parent_id = self.store.add_message(cid, "user", user_text, parent_id).id
        full = "\n".join([reply_text, *notes])
        msg = self.store.add_message(cid, "assistant", full, parent_id, node_ids=list(node_ids))
        return Reply(full, kind, tuple(node_ids), plan, None, msg.id, tuple(notes))

    def _busy(self) -> Reply | None:
        job = self._active_job(self._cid)
        if job is None:
            return None
        where = f"step {job.step} of {job.steps}, " if job.steps > 1 else ""
        pct = f"{100 * job.done // job.total}%" if job.total else job.status
        return Reply(f"An edit is still running ({where}{pct}); wait for it to finish or "
                     f"cancel it first.", "error", job_id=job.id)

    def _upload(self, intent: Intent, uploads, text: str, wait: bool) -> list[Reply]:
        if (busy := self._busy()) is not None:
            return [busy]
        cid = self._require()
        base = min(intent.base, len(uploads) - 1)
        nodes = []
        for i, (name, png) in enumerate(uploads):
            caption = intent.caption if i == base else ""
            node = self.store.add_upload(cid, png, caption, set_head=(i == base))
            nodes.append(node)
        if len(nodes) > 1:
            self.store.set_head(cid, nodes[base].id)
        user = self.store.add_message(cid, "user", text, node_ids=[n.id for n in nodes])
        names = ", ".join(f"{i + 1}. {n}" for i, (n, _) in enumerate(uploads))
        lead = (f"Stored {len(nodes)} images ({names}); image {base + 1} is the base. Say "
                "\"use the second image\" to switch." if len(nodes) > 1 else "Stored the image.")
        base_node = nodes[base]
        if not intent.caption:
            self.store.add_message(cid, "system", _Record.dump(
                "ask_caption", node_id=base_node.id, instruction=intent.instruction), user.id)
            return [self._say(f"{lead} What does it show? Describe it in one sentence (for "
                              "example \"a dog on a beach\"): the description is the prompt "
                              "each edit starts from.", "ask", node_ids=[base_node.id])]
        replies = [self._say(f"{lead} I'll describe it as \"{intent.caption}\".", "upload",
                             node_ids=[n.id for n in nodes])]
        if intent.instruction:
            replies += self._edit(intent.instruction, None, wait)
        return replies

    def _pending_caption(self, cid: str, head) -> dict | None:
        """The upload the agent asked a caption for, if the user has not answered yet."""
        if head is None or head.caption or head.parent_id is not None:
            return None
        if self._caption_record(cid, head.id) is not None:
            return None
        for msg in reversed(self.store.messages(cid)):
            rec = _Record.load(msg.text) if msg.role == "system" else None
            if rec and rec["mtedit"] == "ask_caption" and rec.get("node_id") == head.id:
                return rec
        return None

    def _caption_record(self, cid: str, node_id: str) -> str | None:
        for msg in reversed(self.store.messages(cid)):
            if msg.role != "system":
                continue
            rec = _Record.load(msg.text)
            if rec and rec["mtedit"] == "caption" and rec.get("node_id") == node_id:
                return rec.get("caption")
        return None

    def _caption_given(self, caption: str, pending: dict, text: str, wait: bool) -> list[Reply]:
        cid = self._require()
        caption = re.sub(r"^(?:it's|it is|this is|it shows|that's|that is)\s+", "", caption,
                         flags=re.IGNORECASE).strip(" .")
        user = self.store.add_message(cid, "user", text)
        self.store.add_message(cid, "system", _Record.dump(
            "caption", node_id=pending["node_id"], caption=caption), user.id)
        replies = [self._say(f"Thanks: I'll describe it as \"{caption}\".", "upload",
                             node_ids=[pending["node_id"]])]
        if pending.get("instruction"):
            replies += self._edit(pending["instruction"], None, wait)
        return replies

    def caption_of(self, node) -> str:
        """The node's caption (for an upload, the one given later if it had none)."""
        if node.caption or node.parent_id is not None:
            return node.caption
        return self._caption_record(node.conversation_id, node.id) or ""

    def _generate(self, intent: Intent, text: str, wait: bool) -> list[Reply]:
        if (busy := self._busy()) is not None:
            return [busy]
        prompt = intent.caption.strip()
        if not prompt:
            return [self._say("Describe the image to generate, e.g. \"generate a red circle on "
                              "the left, on a green background\".", "error", user_text=text)]
        self.store.add_message(self._require(), "user", text)
        es = self.edit_settings
        spec = JobSpec("generate", self._cid, prompt=prompt, preset=es.preset,
                       overrides=core_overrides(es), seed=es.seed, request=text,
                       steps=[{"instruction": "generate", "target_prompt": prompt}])
        return [self._run(spec, None, wait, "generate")]

    def _edit(self, request: str, text: str | None, wait: bool,
              parent_id: str | None = None) -> list[Reply]:
        """Plan the request and run it from the head (or, while an edit of this conversation
        runs in this process, queue it behind that edit). text None: no user message to store."""
        cid = self._require()
        queued = self.executor.last_queued(cid)
        if queued is not None:
            return self._edit_after(queued, request, text, wait)
        if (busy := self._busy()) is not None:
            return [busy]
        head = self.store.head(cid)
        if head is None:
            return [self._say("There is no image yet: upload one (with a sentence saying what "
                              "it shows) or ask me to generate one, e.g. \"generate a red circle "
                              "on a green background\".", "error", user_text=text)]
        caption = self.caption_of(head)
        if not caption:
            user_id = self.store.add_message(cid, "user", text, parent_id).id if text else None
            self.store.add_message(cid, "system", _Record.dump(
                "ask_caption", node_id=head.id, instruction=request), user_id)
            return [self._say("Before I edit: what does the image show? Describe it in one "
                              "sentence (for example \"a dog on a beach\").", "ask",
                              node_ids=[head.id])]
        history = [n.instruction for n in self.store.path(head.id) if n.instruction][-6:]
        request, once = one_off_settings(request)
        try:
            result = self.planner.plan(request, caption, history)
        except ValueError as exc:
            return [self._say(f"I could not plan that: {exc}", "error", user_text=text,
                              parent_id=parent_id)]
        try:
            es = self.edit_settings.updated(**once)
        except ValueError as exc:
            return [self._say(f"I could not use that setting: {exc}", "error", user_text=text,
                              parent_id=parent_id)]
        plan = shift_strength(result.plan, es.strength)
        if text is not None:
            user = self.store.add_message(cid, "user", text, parent_id)
        else:
            user = self.store.latest_message(cid)
        self.store.add_plan(user.id, request, [s.model_dump() for s in plan.steps],
                            result.planner)
        spec = JobSpec("edit", cid, steps=[s.model_dump() for s in plan.steps],
                       base_node_id=head.id, base_caption=caption, preset=es.preset,
                       overrides=core_overrides(es), seed=es.seed, request=request,
                       summary=plan.summary, notes=list(result.notes))
        return [self._run(spec, plan, wait, "edit")]

    def _edit_after(self, queued: tuple[str, JobSpec], request: str, text: str | None,
                    wait: bool) -> list[Reply]:
        """Plan from the caption the queued job will end with; run when it is done."""
        job_id, prev = queued
        caption = prev.steps[-1]["target_prompt"] if prev.steps else prev.prompt
        history = [s["instruction"] for s in prev.steps if prev.kind == "edit"][-6:]
        request, once = one_off_settings(request)
        try:
            result = self.planner.plan(request, caption, history)
            es = self.edit_settings.updated(**once)
        except ValueError as exc:
            return [self._say(f"I could not plan that: {exc}", "error", user_text=text)]
        plan = shift_strength(result.plan, es.strength)
        cid = self._require()
        user = (self.store.add_message(cid, "user", text) if text is not None
                else self.store.latest_message(cid))
        self.store.add_plan(user.id, request, [s.model_dump() for s in plan.steps],
                            result.planner)
        spec = JobSpec("edit", cid, steps=[s.model_dump() for s in plan.steps],
                       after_job=job_id, base_caption=caption, preset=es.preset,
                       overrides=core_overrides(es), seed=es.seed, request=request,
                       summary=plan.summary, notes=list(result.notes))
        reply = self._run(spec, plan, wait, "edit")
        if reply.kind == "queued":
            reply = replace(reply, text="Queued after the edit that is running:\n"
                                        + plan.describe())
        return [reply]

    def _run(self, spec: JobSpec, plan: EditPlan | None, wait: bool, kind: str) -> Reply:
        """Submit the job; with wait, block until it ends and reply with its result."""
        job_id = self.executor.submit(spec)
        notes = tuple(spec.notes)
        if not wait:
            what = plan.describe() if plan is not None else f"Generating \"{spec.prompt}\"."
            return Reply(f"Working on it:\n{what}" if plan else what, "queued", (), plan, job_id,
                         None, notes)
        view = self.executor.wait(job_id)
        text = ""
        if view.message_id:
            text = self.store.get_message(view.message_id).text
        ok = view.status == "done"
        return Reply(text or view.error or view.status, kind if ok else "error", view.node_ids,
                     plan, job_id, view.message_id, notes)

    def _navigate(self, intent: Intent, text: str, wait: bool) -> list[Reply]:
        if (busy := self._busy()) is not None:
            return [busy]
        cid = self._require()
        nodes = self.store.nodes(cid)
        head = self.store.head(cid)
        head_id = head.id if head else None
        if head_id is None:
            return [self._say("There are no images yet: nothing to go back to.", "error",
                              user_text=text)]
        if intent.kind == "undo":
            node, why = lineage.undo(nodes, head_id, intent.count)
        elif intent.kind == "redo":
            node, why = lineage.redo(nodes, head_id, self._redo_hint.get(cid))
        elif intent.kind == "branch":
            node, why = lineage.switch_branch(nodes, head_id,
                                               intent.target.words if intent.target else "")
        else:
            groups = [(job.request.get("request", ""), list(job.result_node_ids))
                      for job in reversed(self.store.list_jobs(cid, limit=500))
                      if job.kind == "edit"]
            node, why = lineage.resolve(intent.target, nodes, head_id, groups)
        if node is None:
            return [self._say(why, "error", user_text=text)]
        if intent.kind == "undo":
            self._redo_hint[cid] = lineage.branch_leaf(nodes, head_id).id
        verb = {"redo": "Forward to", "branch": "Switched to"}.get(intent.kind, "Back to")
        reply = self._move_head(node, text, verb=verb)
        if intent.then:
            return [reply, *self._edit(intent.then, None, wait)]
        return [reply]

    def _move_head(self, node, user_text: str | None, verb: str = "Back to") -> Reply:
        """Head -> node; the messages continue on the branch of the message that made it."""
        cid = self._require()
        self.store.set_head(cid, node.id)
        anchor = self._anchor_message(node.id)
        caption = self.caption_of(node)
        label = "the original" if node.parent_id is None else f"turn #{node.depth}"
        what = f" ({node.instruction})" if node.instruction else ""
        later = ("the next edit starts a new branch from here" if self.store.children(node.id)
                 else "the next edit continues from here")
        text = f"{verb} {label}{what}: \"{caption}\". Nothing was deleted; {later}."
        if user_text is not None:
            user = self.store.add_message(cid, "user", user_text, anchor)
            anchor = user.id
        msg = self.store.add_message(cid, "assistant", text, anchor, node_ids=[node.id],
                                     root=anchor is None)
        return Reply(text, "rollback", (node.id,), None, None, msg.id)

    def _anchor_message(self, node_id: str) -> str | None:
        """The message that produced (or first showed) the node."""
        for msg in self.store.messages(self._require()):
            if msg.role != "system" and node_id in msg.node_ids:
                return msg.id
        return None

    def _history(self) -> str:
        cid = self._require()
        head = self.store.head(cid)
        return lineage.history_text(self.store.nodes(cid), head.id if head else None,
                                     self.caption_of)

    def _setting(self, intent: Intent, text: str) -> Reply:
        change = dict(intent.settings)
        es = self.edit_settings
        if "strength_delta" in change:
            base = es.strength if es.strength is not None else 0.5
            change = {"strength": round(min(1.0, max(0.05, base + change.pop("strength_delta"))), 2)}
        try:
            new = self.update_settings(**change)
        except ValueError as exc:
            return self._say(f"I could not change that setting: {exc}", "error", user_text=text)
        shown = ", ".join(f"{'lambda' if k == 'lam' else k} = {getattr(new, k)}" for k in change)
        extra = ""
        if "strength" in change:
            extra = (" (lower is subtler: the edit stays closer to the current image; "
                     "\"be bolder\" goes the other way)")
        return self._say(f"From now on: {shown}{extra}.", "settings", user_text=text)

    def _question(self, question: str, text: str) -> Reply:
        cid = self._require()
        head = self.store.head(cid)
        low = question.lower()
        if re.search(r"\b(?:setting|preset|steps|solver|guidance|seed|strength|method)s?\b", low):
            return self._say(self._settings_text(), "text", user_text=text)
        caption = self.caption_of(head) if head else ""
        if head is not None and re.search(r"\b(?:caption|describe|description|prompt|what(?:'s| is)"
                                          r" (?:in|on) (?:the|this)|what do you see|current "
                                          r"image)\b", low):
            return self._say(f"The current image (turn #{head.depth}) is described as "
                             f"\"{caption}\".", "text", user_text=text)
        if isinstance(self.planner, LLMPlanner):
            context = (f"Current image caption: {caption or '(none)'}\n"
                       f"{self._settings_text()}\n{self._history()}")
            answer = self.planner.answer(question, context)
            if answer:
                return self._say(answer, "text", user_text=text)
        return self._say("I can't answer free questions offline; here is what I can do.\n" + HELP,
                         "text", user_text=text)

    def _settings_text(self) -> str:
        es = self.edit_settings
        set_ = {("lambda" if k == "lam" else k): v for k, v in es.as_dict().items()
                if v is not None}
        planner = getattr(self.planner, "name", type(self.planner).__name__)
        return ("Edit settings (unset ones follow the preset): "
                + ", ".join(f"{k} = {v}" for k, v in set_.items()) + f"; planner: {planner}.")

    # -- read side for the UI ----------------------------------------------------------

    def messages(self) -> list[MessageView]:
        """The messages of the current chat branch, oldest first."""
        cid = self._cid
        if cid is None:
            return []
        tip = self.store.latest_message(cid)
        if tip is None:
            return []
        chain = self.store.message_path(tip.id)
        plans = {p.message_id: p for p in self.store.plans(cid)}
        jobs = {}
        for job in self.store.list_jobs(cid, limit=200):
            for nid in job.result_node_ids:
                jobs[nid] = job.id
        out, prev_user = [], None
        for msg in chain:
            if msg.role == "system":
                continue
            plan = None
            if msg.role == "user":
                prev_user = msg
                row = plans.get(msg.id)
            else:
                row = plans.get(msg.parent_id) or (plans.get(prev_user.id) if prev_user else None)
            if row is not None:
                try:
                    plan = EditPlan.model_validate({"steps": row.steps})
                except ValueError:
                    plan = None
            kind = "user" if msg.role == "user" else message_kind(msg.text)
            if msg.role == "assistant" and kind != "edit":
                plan = None
            job_id = next((jobs[n] for n in msg.node_ids if n in jobs), None)
            out.append(MessageView(msg.id, msg.role, msg.text, kind, tuple(msg.node_ids), plan,
                                   msg.parent_id, msg.created_at.timestamp(), job_id))
        return out

    def lineage(self) -> list[NodeView]:
        """All image nodes of the conversation (every branch), oldest first."""
        cid = self._cid
        if cid is None:
            return []
        nodes = self.store.nodes(cid)
        head = self.store.get_conversation(cid).head_node_id
        on_path = {n.id for n in lineage.path(nodes, head)} if head else set()
        return [node_view(n, self.caption_of(n), n.id == head, n.id in on_path) for n in nodes]

    def head(self) -> str | None:
        """The node the next edit starts from (None before any image)."""
        if self._cid is None:
            return None
        return self.store.get_conversation(self._cid).head_node_id

    def node(self, node_id: str) -> NodeView:
        """One node of the current conversation (KeyError if unknown)."""
        node = self._own_node(node_id)
        head = self.head()
        on_path = {n.id for n in self.store.path(head)} if head else set()
        return node_view(node, self.caption_of(node), node.id == head, node.id in on_path)

    def _own_node(self, node_id: str):
        from storage import NotFoundError

        try:
            node = self.store.get_node(node_id)
        except NotFoundError as exc:
            raise KeyError(node_id) from exc
        if node.conversation_id != self._cid:
            raise KeyError(node_id)
        return node

    def image_bytes(self, node_id: str) -> bytes:
        """The node's image as PNG bytes."""
        return self.store.read_image(self._own_node(node_id))

    def thumbnail(self, node_id: str, size: int = 128) -> bytes:
        """A PNG thumbnail of the node's image, long side `size` pixels."""
        img = Image.open(io.BytesIO(self.image_bytes(node_id)))
        img.thumbnail((size, size))
        return png_bytes(img)

    def set_head(self, node_id: str) -> Reply:
        """Rollback by click: the head moves to node_id (a node of this conversation);
        the next edit branches from it. Stores a short assistant note in the chat."""
        node = self._own_node(node_id)
        if (busy := self._busy()) is not None:
            return busy
        return self._move_head(node, None, verb="Selected")

    # -- jobs --------------------------------------------------------------------------

    def _active_job(self, cid: str | None) -> JobView | None:
        if cid is None:
            return None
        view = self.executor.active(cid)
        if view is not None:
            return view
        for job in self.store.list_jobs(cid, status=("queued", "running"), limit=1):
            return self.job(job.id)
        return None

    def active_job(self) -> JobView | None:
        """The current conversation's queued or running job, if any."""
        return self._active_job(self._cid)

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
        steps = len(job.request.get("steps") or []) or 1
        return JobView(job.id, job.conversation_id or "", status, job.done, job.total, job.stage,
                       0, steps, elapsed, None, job.error, tuple(job.result_node_ids), None)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop (between model calls). Steps already
        finished keep their nodes. Returns False if the job had already finished."""
        return self.executor.cancel(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job ends (or timeout); returns its state."""
        if self.executor.progress(job_id) is not None:
            return self.executor.wait(job_id, timeout)
        return self.job(job_id)

    # -- settings ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The application settings (model, device, planner ...)."""
        return self._settings

    @property
    def edit_settings(self) -> EditSettings:
        """The current conversation's edit overrides (preset, steps, guidance, eta,
        lam, stop, highlight, inject, seed, strength)."""
        if self._cid is None:
            return EditSettings()
        for msg in reversed(self.store.messages(self._cid)):
            rec = _Record.load(msg.text) if msg.role == "system" else None
            if rec and rec["mtedit"] == "settings":
                try:
                    return EditSettings().updated(**rec["values"])
                except (ValueError, TypeError):
                    break
        return EditSettings()

    def update_settings(self, **kw) -> EditSettings:
        """Change edit overrides (EditSettings fields; "lambda" is accepted for lam) and
        planner settings (planner, planner_model, planner_base_url, planner_api_key,
        planner_timeout: the planner is rebuilt). ValueError names a bad key or value.
        Edit overrides belong to the current conversation (one is started if needed)."""
        planner_keys = {k: kw.pop(k) for k in list(kw) if k.startswith("planner")}
        if planner_keys:
            import dataclasses

            self._settings = dataclasses.replace(self._settings, **planner_keys)
            self.planner_note = ""
            self.planner = self._build_planner(self._settings)
        if not kw:
            return self.edit_settings
        new = self.edit_settings.updated(**kw)
        from editing_core import resolve_params

        resolve_params(new.preset, core_overrides(new))  # ValueError names what does not fit
        if self._cid is None:
            self.new_conversation()
        values = {k: v for k, v in new.as_dict().items() if v is not None}
        self.store.add_message(self._cid, "system", _Record.dump("settings", values=values))
        return new


# -- helpers -----------------------------------------------------------------------------

def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
