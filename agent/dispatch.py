"""One user message in, the assistant's replies out: read the intent, hand it to the
part of the session that handles it, answer the small intents (help, history,
settings, questions) here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from agent import lineage, nav_limits
from agent.intents import Intent, Target, parse_intent
from agent.llm import LLMPlanner
from agent.resume import RESUME
from agent.uploads import read_upload
from agent.validate import message_problem
from agent.views import Reply

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
# An upload: a path, or (filename, bytes) as Streamlit's UploadedFile gives them.
Upload = str | Path | tuple[str, bytes]
REFUSE = ("I can't delete or change stored history or files from the chat, so nothing was "
          "deleted. Every version stays available; to delete a whole conversation, use the "
          "conversation list.")


class Dispatch:
    """ChatSession.send and the replies that need no image work."""

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
            return [Reply(text="That message is too long (over 4000 characters); please "
                          "shorten it.", kind="error")]
        if problem := message_problem(text):  # numbers out of range, giant words: nothing stored
            return [Reply(text=problem, kind="error")]
        if problem := nav_limits.problem(text, self.store, self._cid):  # "back to turn -1"
            return [Reply(text=problem, kind="error")]
        if self._cid is None:
            self.new_conversation(_title(text) if text else "New conversation")
        try:
            uploads = [read_upload(f) for f in files]
        except ValueError as exc:
            return [self._say(f"I could not use that file: {exc}", "error", user_text=text)]
        head = self.store.head(self._cid)
        intent = parse_intent(text, len(uploads), head is not None)
        if head is not None and intent.kind in ("edit", "question") and _NAV_HINT.search(text):
            intent = self._llm_reading(intent, text, head)
        if RESUME.fullmatch(text) and not uploads and (job := self._resumable()) is not None:
            return self._claimed(lambda: self._resume(job, text, wait))
        pending = self._pending_caption(head)
        if pending is not None and intent.kind in ("edit", "generate", "question") and not uploads:
            return self._claimed(lambda: self._caption_given(intent.text or text, pending, text,
                                                             wait))
        if intent.kind in ("upload", "generate", "edit", "undo", "redo", "goto", "branch"):
            return self._claimed(lambda: self._dispatch(intent, uploads, text, wait,
                                                        has_image=head is not None))
        return self._dispatch(intent, uploads, text, wait, has_image=head is not None)

    def _dispatch(self, intent: Intent, uploads, text: str, wait: bool,
                  has_image: bool) -> list[Reply]:
        match intent.kind:
            case "empty":
                return [Reply(text="Type a request, or attach an image.", kind="error")]
            case "refuse":
                return [self._say(REFUSE, "text", user_text=text)]
            case "help":
                return [self._say(HELP, "text", user_text=text)]
            case "chat":
                hello = ("Glad to help. Tell me the next change, or say \"undo\" or \"show the "
                         "history\"." if has_image else "Hello! Upload an image with a sentence "
                         "saying what it shows, or ask me to generate one.")
                return [self._say(hello, "text", user_text=text)]
            case "upload":
                return self._upload(intent, uploads, text, wait)
            case "generate":
                return self._generate(intent, text, wait)
            case "edit":
                return self._edit(intent.text, text, wait)
            case "undo" | "redo" | "goto" | "branch":
                return self._navigate(intent, text, wait)
            case "history":
                return [self._say(self._history(), "history", user_text=text)]
            case "setting":
                return [self._setting(intent, text)]
            case "question":
                return [self._question(intent.text, text)]
        raise ValueError(f"unknown intent {intent.kind!r}")

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
             notes: Sequence[str] = (), meta: dict | None = None) -> Reply:
        """Store (the user message and) the assistant reply; return the Reply."""
        cid = self._require()
        if user_text is not None:
            parent_id = self.store.add_message(cid, "user", user_text, parent_id).id
        full = "\n".join([reply_text, *notes])
        msg = self.store.add_message(cid, "assistant", full, parent_id, node_ids=list(node_ids),
                                     kind=kind, meta=meta)
        return Reply(text=full, kind=kind, node_ids=tuple(node_ids), plan=plan,
                     message_id=msg.id, notes=tuple(notes))

    def _history(self) -> str:
        cid = self._require()
        head = self.store.head(cid)
        return lineage.history_text(self.store.nodes(cid), head.id if head else None,
                                     self.caption_of)

    def _setting(self, intent: Intent, text: str) -> Reply:
        change = dict(intent.settings)
        current = self.edit_settings
        if "strength_delta" in change:
            base = current.strength if current.strength is not None else 0.5
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
        head = self.store.head(self._require())
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
        shown = {("lambda" if k == "lam" else k): v
                 for k, v in self.edit_settings.as_dict().items() if v is not None}
        planner = getattr(self.planner, "name", type(self.planner).__name__)
        return ("Edit settings (unset ones follow the preset): "
                + ", ".join(f"{k} = {v}" for k, v in shown.items()) + f"; planner: {planner}.")


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
