"""Answering a message whose intent is read: hand it to the handler of its kind (match on
the kind), and answer the small intents here (help, greetings, history, settings,
questions)."""

from __future__ import annotations

import re

from agent.chat import conversations, head_moves, submit, upload_flow
from agent.chat.turn import Turn
from agent.chat.views import Reply
from agent.lineage import walks
from agent.planning.llm import LLMPlanner
from agent.planning.plan import clamp_strength
from agent.reading.intents import Intent, from_choice

HELP = """I edit images over several turns and keep every version. You can:
- upload one or more images with a sentence saying what they show ("a dog on a beach");
- generate one: "generate a red circle on the left, on a green background";
- edit: "make the circle blue", "add a hat", "replace the dog with a cat", "remove the glasses",
  or a wish: "make it more vintage", "cinematic", "winter", "watercolor", "brighter";
- go back: "undo", "go back to before the hat", "back to turn 2", "the original", "redo",
  "switch branch", "switch to the branch with the scarf" (then edit again: a new branch);
- see the history: "show the history";
- change settings: "use 15 steps", "guidance 4", "use rf_solver", "be subtler", "seed 3"."""
REFUSE = ("I can't delete or change stored history or files from the chat, so nothing was "
          "deleted. Every version stays available; to delete a whole conversation, use the "
          "conversation list.")
# Kinds that may start a job or move the head: answered under the conversation's claim.
CLAIMED = ("upload", "generate", "edit", "undo", "redo", "goto", "branch", "again")


def answer(turn: Turn, intent: Intent, uploads: list[tuple[str, bytes]],
           redo_hints: dict[str, str], has_image: bool) -> list[Reply]:
    """The replies to a message of this intent."""
    text = turn.text
    match intent.kind:
        case "empty":
            return [Reply(text="Type a request, or attach an image.", kind="error")]
        case "refuse":
            return [turn.say(REFUSE, "text", user_text=text)]
        case "help":
            return [turn.say(HELP, "text", user_text=text)]
        case "chat":
            hello = ("Glad to help. Tell me the next change, or say \"undo\" or \"show the "
                     "history\"." if has_image else "Hello! Upload an image with a sentence "
                     "saying what it shows, or ask me to generate one.")
            return [turn.say(hello, "text", user_text=text)]
        case "upload":
            return upload_flow.upload(turn, intent, uploads)
        case "generate":
            return submit.generate(turn, intent)
        case "edit":
            return submit.edit(turn, intent.edit, intent.once, text)
        case "undo" | "redo" | "goto" | "branch" | "again":
            return head_moves.navigate(turn, intent, redo_hints)
        case "history":
            return [turn.say(history(turn.store, turn.conversation_id), "history",
                             user_text=text)]
        case "setting":
            return [setting(turn, intent)]
        case "question":
            return [question(turn, intent.text)]
    raise ValueError(f"unknown intent {intent.kind!r}")


def llm_reading(planner, store, intent: Intent, text: str, head) -> Intent:
    """With an LLM configured, let it read again a message that sounds like navigation but
    that the rules took for an edit or a question ("the one from two turns ago")."""
    if not isinstance(planner, LLMPlanner):
        return intent
    history_ = [n.instruction or n.caption for n in store.path(head.id)[1:]]
    return from_choice(intent, planner.classify(text, history_))


def history(store, conversation_id: str) -> str:
    head = store.head(conversation_id)
    return walks.history_text(store.nodes(conversation_id), head.id if head else None)


def setting(turn: Turn, intent: Intent) -> Reply:
    """"use 15 steps", "be subtler": the conversation's edit settings change."""
    change = dict(intent.settings)
    current = turn.edit_settings
    if "strength_delta" in change:
        base = current.strength if current.strength is not None else 0.5
        change = {"strength": clamp_strength(base + change.pop("strength_delta"), 2)}
    try:
        new = conversations.save_edit_settings(turn.store, turn.conversation_id,
                                               conversations.checked(current, **change))
    except ValueError as exc:
        return turn.say(f"I could not change that setting: {exc}", "error",
                        user_text=turn.text)
    shown = ", ".join(f"{'lambda' if k == 'lam' else k} = {getattr(new, k)}" for k in change)
    extra = ""
    if "strength" in change:
        extra = (" (lower is subtler: the edit stays closer to the current image; "
                 "\"be bolder\" goes the other way)")
    return turn.say(f"From now on: {shown}{extra}.", "settings", user_text=turn.text)


def question(turn: Turn, question_: str) -> Reply:
    """Questions about the settings or the image answered from the store; others by the
    LLM when there is one."""
    text = turn.text
    head = turn.store.head(turn.conversation_id)
    low = question_.lower()
    if re.search(r"\b(?:setting|preset|steps|solver|guidance|seed|strength|method)s?\b", low):
        return turn.say(settings_text(turn), "text", user_text=text)
    caption = head.caption if head else ""
    if head is not None and re.search(r"\b(?:caption|describe|description|prompt|what(?:'s| is)"
                                      r" (?:in|on) (?:the|this)|what do you see|current "
                                      r"image)\b", low):
        return turn.say(f"The current image (turn #{head.depth}) is described as "
                        f"\"{caption}\".", "text", user_text=text)
    if isinstance(turn.planner, LLMPlanner):
        context = (f"Current image caption: {caption or '(none)'}\n"
                   f"{settings_text(turn)}\n{history(turn.store, turn.conversation_id)}")
        reply = turn.planner.answer(question_, context)
        if reply:
            return turn.say(reply, "text", user_text=text)
    return turn.say("I can't answer free questions offline; here is what I can do.\n" + HELP,
                    "text", user_text=text)


def settings_text(turn: Turn) -> str:
    shown = {("lambda" if k == "lam" else k): v
             for k, v in turn.edit_settings.as_dict().items() if v is not None}
    planner = getattr(turn.planner, "name", type(turn.planner).__name__)
    return ("Edit settings (unset ones follow the preset): "
            + ", ".join(f"{k} = {v}" for k, v in shown.items()) + f"; planner: {planner}.")
