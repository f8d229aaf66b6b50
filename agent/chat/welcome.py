"""What the model can do, said up front: the welcome text, one-click starters, the upload note.

The bundled model (toyworld/model) knows one small world: 64x64 pictures of one or two
circles, squares or triangles in eight colours on a plain or striped background. With
it the welcome says so and offers that world's example scene and three edits that
work on it; a photo uploaded to it gets a note, once per conversation and before any
wait, saying that it will come back as shapes and how to use real FLUX weights. With
any other model the starters are plain example prompts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mtedit.settings import BUNDLED_MODEL, Settings

EXAMPLE_SCENE = Path(__file__).resolve().parents[2] / "examples" / "toy_scene.png"
# What examples/toy_scene.png shows (toyworld.world.render of this scene).
EXAMPLE_CAPTION = ("a small red circle on the left and a large blue square on the right, "
                   "on a green background")
EXAMPLE_TITLE = "Example scene"
# Edits the offline planner maps to one step each and the bundled model has seen in
# training (recolour, move, background), all on the example scene.
TOY_EDITS = ("make the circle blue", "move the square to the top left",
             "make the background yellow")
PHOTO_PROMPTS = ("generate a red vintage car on a coastal road at sunset",
                 "generate a cat asleep on a sofa by a sunny window",
                 "generate a lighthouse on a cliff in a storm")

BUNDLED_SENTENCE = (
    "This is mtedit's small bundled model: it only knows a toy world of 64x64 pictures of "
    "circles, squares and triangles in eight colours on plain or striped backgrounds, so "
    "start from its example scene (photos come back as shapes; for photos, set "
    "`MTEDIT_MODEL` to FLUX.1 weights)."
)
PHOTO_SENTENCE = (
    "Upload a photo with the **+** in the box below and say what to change (\"make it more "
    "vintage\", \"add a hat\"), or start from a text prompt:"
)
UPLOAD_NOTE = (
    "Note: the bundled model only draws its own world of shapes (circles, squares and "
    "triangles on plain backgrounds, 64x64 pixels), so edits of this photo will come back "
    "as shapes, not as your photo. To edit photos, point the app at real FLUX weights: "
    "`MTEDIT_MODEL=black-forest-labs/FLUX.1-dev make run` (or any diffusers FLUX.1 folder; "
    "see the README)."
)


@dataclass(frozen=True)
class Starter:
    """A one-click start. kind "scene": open the example scene in a new conversation (then
    send `text`, when given); kind "send": send `text` as a message."""

    label: str
    kind: str
    text: str = ""


@dataclass(frozen=True)
class Welcome:
    text: str
    starters: tuple[Starter, ...]
    bundled: bool


def is_bundled(settings: Settings) -> bool:
    """Is the configured model the bundled toy model?"""
    try:
        return Path(str(settings.model)).expanduser().resolve() == Path(BUNDLED_MODEL).resolve()
    except OSError:
        return False


def welcome(settings: Settings) -> Welcome:
    """The empty conversation's first message and its starters."""
    if is_bundled(settings):
        starters = []
        if EXAMPLE_SCENE.is_file():
            starters.append(Starter("Try an example scene", "scene"))
            starters += [Starter(text, "scene", text) for text in TOY_EDITS]
        else:  # an install without the examples folder: describe a scene instead
            starters.append(Starter(f"generate {EXAMPLE_CAPTION}", "send",
                                    f"generate {EXAMPLE_CAPTION}"))
        return Welcome(BUNDLED_SENTENCE, tuple(starters), True)
    return Welcome(PHOTO_SENTENCE, tuple(Starter(p, "send", p) for p in PHOTO_PROMPTS), False)


def start(chat, starter: Starter) -> list:
    """Run a starter on a ChatSession; returns the replies. A "scene" starter opens the
    example scene with its caption (in the conversation it was clicked in when that one is
    still empty, else in a new one), then sends its edit (it runs in the background)."""
    if starter.kind == "scene":
        chat.start_fresh(EXAMPLE_TITLE)
        replies = chat.send(EXAMPLE_CAPTION, files=[EXAMPLE_SCENE], wait=False)
        if starter.text and not any(r.kind == "error" for r in replies):
            replies += chat.send(starter.text, wait=False)
        return replies
    return chat.send(starter.text, wait=False)


@lru_cache(maxsize=1)
def _example_digest() -> str | None:
    if not EXAMPLE_SCENE.is_file():
        return None
    from agent.reading.uploads import read_upload

    return hashlib.sha256(read_upload(EXAMPLE_SCENE)[1]).hexdigest()


def is_example(png: bytes) -> bool:
    """Is this (read_upload'ed) PNG the example scene?"""
    return hashlib.sha256(png).hexdigest() == _example_digest()


def upload_notes(settings: Settings, pngs: list[bytes], first_in_conversation: bool) -> list[str]:
    """The note for photos uploaded to the bundled model: once per conversation (its first
    upload), and not for the example scene, which is of the model's own world."""
    if not first_in_conversation or not is_bundled(settings):
        return []
    if pngs and all(is_example(p) for p in pngs):
        return []
    return [UPLOAD_NOTE]


def suggestions(chat) -> tuple[Starter, ...]:
    """Edits to offer under the example scene until its first edit (bundled model only)."""
    if not is_bundled(chat.settings) or chat.conversation_id is None:
        return ()
    nodes = chat.lineage()
    if len(nodes) != 1 or not EXAMPLE_SCENE.is_file():
        return ()
    try:
        if not is_example(chat.image_bytes(nodes[0].id)):
            return ()
    except (KeyError, OSError, ValueError):
        return ()
    return tuple(Starter(text, "send", text) for text in TOY_EDITS)
