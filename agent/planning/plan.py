"""The planner's output: a short list of concrete edit steps.

The schema is what an LLM fills in through structured output, so the field
descriptions are part of the prompt.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_STEPS = 4
MIN_STRENGTH = 0.05  # a step weaker than this would change nothing one could see


def clamp_strength(value: float, digits: int = 3) -> float:
    """A step's strength kept within MIN_STRENGTH..1, rounded: the one clamp of the planner's
    strengths, the recipes' scaled ones and the conversation's strength setting."""
    return round(min(1.0, max(MIN_STRENGTH, float(value))), digits)

# JSON-schema keywords that strict structured-output modes (OpenAI's) refuse; pydantic
# still checks these limits when it parses the answer.
_UNSENT = ("default", "minLength", "maxLength")


def portable_schema(schema: dict) -> None:
    for prop in schema.get("properties", {}).values():
        for key in _UNSENT:
            prop.pop(key, None)


class EditStep(BaseModel):
    """One edit turn on the current image."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=portable_schema)

    instruction: str = Field(
        min_length=1,
        max_length=300,
        description="What this step changes, in a short imperative sentence.",
    )
    target_prompt: str = Field(
        min_length=1,
        max_length=600,
        description=(
            "A description of the WHOLE image after this step: the current caption "
            "rewritten with this change (and the changes of earlier steps), not just the change."
        ),
    )
    focus_words: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="1-3 words of target_prompt naming what changes (e.g. 'hat', 'blue').",
    )
    strength: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="0 = barely change the image, 1 = change it a lot; 0.5 for most edits.",
    )

    scope: Literal["global", "local"] = Field(
        default="local",
        description=("'global' when the step changes the whole picture (a style or medium, a "
                     "colour grade, the time of day, weather or season, the lighting); "
                     "'local' when it changes some things or a part of it (an object, its "
                     "colour, a person, the background): the edit is then limited to where "
                     "it acts and the rest stays exactly as it was."),
    )
    kind: Literal["edit", "op"] = Field(
        default="edit",
        description=("'edit' for a diffusion edit; 'op' for an exact operation (flip, rotate, "
                     "crop, resize, black and white) given in `op`."),
    )
    op: str = Field(
        default="",
        max_length=100,
        description=("For kind 'op' only: 'flip direction=horizontal|vertical', 'rotate "
                     "degrees=90' (clockwise), 'crop ratio=16:9', 'crop side=left keep=0.5', "
                     "'resize width=512 height=512', 'resize scale=0.5' or 'grayscale'."),
    )

    @field_validator("instruction", "target_prompt")
    @classmethod
    def _one_line(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("focus_words")
    @classmethod
    def _clean_words(cls, v: list[str]) -> list[str]:
        return [w.strip().lower() for w in v if w and w.strip()]

    @model_validator(mode="after")
    def _op_is_valid(self) -> EditStep:
        if self.kind == "op":
            from agent.ops import parse

            self.op = str(parse(self.op))  # raises ValueError (OpError) when unusable
            self.focus_words = []
            self.scope = "global"  # an exact operation acts on the whole frame
        elif self.op:
            raise ValueError("`op` is only for steps of kind 'op'")
        return self

    @model_validator(mode="after")
    def _focus_in_prompt(self) -> EditStep:
        # The editing core maps focus words to tokens of the target prompt: words
        # that are not in it would silently highlight nothing, so drop them.
        words = set(re.findall(r"[a-z0-9']+", self.target_prompt.lower()))
        self.focus_words = [w for w in self.focus_words if all(p in words for p in w.split())]
        return self


class EditPlan(BaseModel):
    """1-4 edit steps; each step edits the result of the step before."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=portable_schema)

    steps: list[EditStep] = Field(min_length=1, max_length=MAX_STEPS)
    summary: str = Field(
        default="",
        max_length=300,
        description="One sentence telling the user what the plan will do.",
    )

    @property
    def final_prompt(self) -> str:
        return self.steps[-1].target_prompt

    def describe(self) -> str:
        lines = [self.summary] if self.summary else []
        for i, s in enumerate(self.steps, 1):
            focus = f" [focus: {', '.join(s.focus_words)}]" if s.focus_words else ""
            if s.kind == "op":
                lines.append(f"{i}. {s.instruction}")
            else:
                lines.append(f"{i}. {s.instruction} (strength {s.strength:.2f}){focus}")
        return "\n".join(lines)
