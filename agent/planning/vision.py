"""Captions for uploads from a configured LLM that can see images.

The editor needs a caption (the prompt each edit starts from). When an image arrives
without words and the planner's chat model is vision-capable (OpenAI-compatible vision
models, Ollama's llava-style models, Anthropic's Claude 3+), the model writes it: one plain
sentence naming the subject, its attributes and the background. Otherwise, or when the
model fails, the chat asks the user as before (the function returns None).
"""

from __future__ import annotations

import base64
import io
import logging
import re

from PIL import Image

log = logging.getLogger(__name__)

# Model names that can see images (lower-case substrings). A model not named here is
# asked nothing: the user is asked for the caption instead.
VISION_HINTS = ("vision", "llava", "bakllava", "-vl", "vl-", "qwen2.5vl", "qwen2vl", "minicpm-v",
                "moondream", "pixtral", "gemma3", "llama3.2-vision", "llama4", "gpt-4o",
                "gpt-4.1", "gpt-4-turbo", "gpt-5", "o1", "o3", "o4", "claude-3", "claude-sonnet",
                "claude-opus", "claude-haiku", "granite3.2-vision", "mistral-small3")
MAX_SIDE = 768
MAX_WORDS = 40


def can_see(provider: str | None, model: str | None) -> bool:
    """Whether the configured chat model reads images (by its name)."""
    if not provider or provider == "offline" or not model:
        return False
    name = model.lower()
    return any(h in name for h in VISION_HINTS)


def image_block(png: bytes) -> dict:
    """The image as a LangChain content block (a data URL: OpenAI, Anthropic and Ollama
    integrations all read it), shrunk to MAX_SIDE."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    data = base64.b64encode(buf.getvalue()).decode()
    return {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}}


def clean_caption(text: str) -> str | None:
    """One plain sentence in caption style, or None for an unusable answer."""
    text = " ".join(str(text or "").split()).strip(" \"'`")
    text = re.sub(r"^(?:caption|description)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^(?:this|the) (?:image|picture|photo) (?:shows|is|depicts)\s+", "", text,
                  flags=re.IGNORECASE)
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(" .")
    if not text or re.match(r"^(?:i(?:'m| am)? (?:sorry|unable|can(?:no|')t)|sorry|as an ai)",
                            text, re.IGNORECASE):
        return None
    if len(text.split()) > MAX_WORDS:
        text = " ".join(text.split()[:MAX_WORDS])
    if len(text) > 1 and text[1].isupper():
        return text  # "NASA ..." keeps its capitals
    return text[:1].lower() + text[1:]


def describe_image(model, png: bytes, timeout: float) -> str | None:
    """The chat model's caption of the image, or None on any failure."""
    from langchain_core.messages import HumanMessage

    from agent.planning.chat_model import ask_with_timeout
    from agent.prompts import load_text

    try:
        message = HumanMessage(content=[{"type": "text", "text": load_text("caption_image.md")},
                                        image_block(png)])
        out = ask_with_timeout(model, [message], timeout)
    except Exception:
        log.info("the vision model gave no caption", exc_info=True)
        return None
    content = out.content
    if isinstance(content, list):  # content blocks
        content = " ".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return clean_caption(content)


def describe_upload(planner, png: bytes) -> str | None:
    """The planner's caption of an upload, if it is an LLM planner that can see."""
    describe = getattr(planner, "describe_image", None)
    return describe(png) if callable(describe) else None
