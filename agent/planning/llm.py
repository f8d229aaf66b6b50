"""LLMPlanner: an EditPlan from any LangChain chat model through structured output.

A malformed or schema-breaking answer gets one retry that quotes the validation
error; a second failure, a timeout or an unreachable server hands the request to
the OfflinePlanner, and the result's notes say so. The chat model is made and asked
by agent/planning/chat_model.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from agent.planning.chat_model import (
    DEFAULT_MODELS,
    PROVIDERS,
    PlannerTimeout,
    ask_with_timeout,
    make_chat_model,
)
from agent.planning.offline import OfflinePlanner, PlanResult
from agent.planning.plan import EditPlan, portable_schema
from agent.prompts import load_text, load_yaml
from mtedit.settings import Settings


class IntentChoice(BaseModel):
    """What an ambiguous chat message asks for (the LLM's reading; the rules come first)."""

    model_config = ConfigDict(json_schema_extra=portable_schema)

    intent: Literal["edit", "undo", "redo", "before", "at", "turn", "original", "branch",
                    "history", "question"]
    words: str = Field(default="", max_length=100,
                       description="for before / at / branch: the words naming the change")
    turn: int | None = Field(default=None, ge=0, le=1000,
                             description="for turn: the version number (0 = the original)")


def build_messages(request: str, caption: str, history: Sequence[str] = ()) -> list[BaseMessage]:
    """The system prompt with the few-shot examples, then this request (as data).

    The examples sit in the system prompt, not as earlier assistant turns, so that a model
    answering through a tool call is not nudged into answering with plain JSON text."""
    user = load_text("planner_user.md")
    examples = []
    for ex in load_yaml("planner_examples.yaml").get("examples", []):
        examples.append(f"Caption: {ex['caption']}\nRequest: {ex['request']}\nPlan: "
                        f"{json.dumps(ex['plan'], ensure_ascii=False)}")
    system = load_text("planner_system.md") + "\n\nExamples:\n\n" + "\n\n".join(examples)
    hist = "\n".join(f"- {h}" for h in history) or "(none)"
    return [SystemMessage(system),
            HumanMessage(user.format(caption=_escape(caption), history=_escape(hist),
                                     request=_escape(request)))]


def _escape(text: str) -> str:
    # The request is wrapped in tags; a user cannot close them early.
    return text.replace("<", "(").replace(">", ")")


class LLMPlanner:
    """Plans with a chat model; falls back to the offline planner (and says so)."""

    def __init__(self, model: BaseChatModel, *, timeout: float = 60.0,
                 fallback: OfflinePlanner | None = None, name: str | None = None):
        self.model = model
        self.timeout = float(timeout)
        self.fallback = fallback or OfflinePlanner()
        label = getattr(model, "model_name", None) or getattr(model, "model", None)
        self.name = name or f"llm:{label or type(model).__name__}"
        self.provider = (name or "").split(":", 1)[0] or _provider_of(model)
        self.model_name = str(label or "")

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMPlanner:
        model = make_chat_model(settings)
        return cls(model, timeout=settings.planner_timeout,
                   name=f"{settings.planner}:"
                        f"{settings.planner_model or DEFAULT_MODELS.get(settings.planner, '')}")

    def plan(self, request: str, caption: str, history: Sequence[str] = ()) -> PlanResult:
        try:
            structured = self.model.with_structured_output(EditPlan, include_raw=True)
        except NotImplementedError as exc:
            return self._fallback(request, caption, history,
                                  f"the model {self.name} has no structured output ({exc})")
        messages = build_messages(request, caption, history)
        error = ""
        for attempt in range(2):
            try:
                out = ask_with_timeout(structured, messages, self.timeout)
            except PlannerTimeout as exc:
                return self._fallback(request, caption, history,
                                      f"the LLM planner gave {exc}")
            except ValueError as exc:  # a schema-breaking answer parsed inside the client
                plan, error = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - connection refused, HTTP errors, bad keys
                return self._fallback(request, caption, history,
                                      f"the LLM planner could not be reached "
                                      f"({type(exc).__name__}: {_short(exc)})")
            else:
                plan, error = _parsed(out)
            if plan is not None:
                retry = "The LLM's first answer broke the plan format; its retry was used."
                notes = [] if attempt == 0 else [retry]
                return PlanResult(plan, self.name, notes)
            if attempt == 0:
                messages = [*messages, HumanMessage(
                    "Your answer did not match the required plan schema:\n"
                    f"{_short(error, 1500)}\nAnswer again with a valid plan: 1-4 steps, each "
                    "with instruction, target_prompt, focus_words and strength (0-1).")]
        return self._fallback(request, caption, history,
                              f"the LLM planner's answer broke the plan format twice "
                              f"({_short(error)})")

    def classify(self, text: str, history: Sequence[str] = ()) -> IntentChoice | None:
        """The LLM's reading of a message the rules found ambiguous; None on any failure."""
        hist = "\n".join(f"#{i} {h}" for i, h in enumerate(history, 1)) or "(none)"
        msgs = [SystemMessage(load_text("intent_system.md")),
                HumanMessage(f"Versions on the current branch after the original:\n{hist}\n\n"
                             f"The message:\n<message>{_escape(text)}</message>")]
        try:
            structured = self.model.with_structured_output(IntentChoice, include_raw=True)
            out = ask_with_timeout(structured, msgs, self.timeout)
        except Exception:  # noqa: BLE001 - the rules' reading stands
            return None
        parsed = out.get("parsed") if isinstance(out, dict) else out
        if isinstance(parsed, dict):
            try:
                parsed = IntentChoice.model_validate(parsed)
            except ValueError:
                return None
        return parsed if isinstance(parsed, IntentChoice) else None

    def answer(self, question: str, context: str) -> str | None:
        """A short plain answer to a question about the conversation; None on any failure."""
        msgs = [SystemMessage("You help a user of an image editor. Answer in at most three "
                              "sentences. The conversation state:\n" + context),
                HumanMessage(_escape(question))]
        try:
            out = ask_with_timeout(self.model, msgs, self.timeout)
        except Exception:  # noqa: BLE001 - any failure means "no answer"
            return None
        text = out.content if isinstance(out.content, str) else str(out.content)
        return text.strip() or None

    def describe_image(self, png: bytes) -> str | None:
        """A caption for an upload when the model can see images (agent/vision.py);
        None when it cannot or fails (the chat then asks the user)."""
        from agent.planning.vision import can_see, describe_image

        if not can_see(self.provider, self.model_name):
            return None
        return describe_image(self.model, png, self.timeout)

    def _fallback(self, request, caption, history, why: str) -> PlanResult:
        result = self.fallback.plan(request, caption, history)
        result.notes.insert(0, f"I used the offline planner because {why}.")
        return result


def _provider_of(model) -> str:
    kind = type(model).__name__.lower()
    return next((p for p in PROVIDERS if p in kind), "")


def _parsed(out) -> tuple[EditPlan | None, str]:
    if isinstance(out, EditPlan):
        return out, ""
    if isinstance(out, dict):
        if out.get("parsed") is not None:
            parsed = out["parsed"]
            if isinstance(parsed, dict):
                try:
                    return EditPlan.model_validate(parsed), ""
                except ValueError as exc:
                    return None, str(exc)
            return parsed, ""
        if out.get("parsing_error") is not None:
            return None, str(out["parsing_error"])
        raw = out.get("raw")
        content = getattr(raw, "content", "")
        return None, f"the answer had no plan (it said: {_short(str(content), 200)!r})"
    return None, f"unexpected answer type {type(out).__name__}"


def _short(exc, n: int = 300) -> str:
    text = re.sub(r"\s*For further information visit \S+", "", str(exc))
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def make_planner(settings: Settings):
    """OfflinePlanner for planner=offline, else an LLMPlanner (which falls back to it)."""
    if (settings.planner or "offline").lower() in ("offline", "none", ""):
        return OfflinePlanner()
    return LLMPlanner.from_settings(settings)
