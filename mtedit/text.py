"""The one sanitiser for text that is stored or printed, and the check of chat input.

clean(text): terminal escape sequences, control characters (all but tab and newline),
Unicode format characters (bidi overrides and isolates such as U+202E, zero-width
marks) and lone surrogates removed. Applied where text enters (chat input, store writes
of user text, imported archives) and where it leaves (the CLI's printing), so nothing
typed, imported or stored can move a terminal's cursor, change its colours or reverse
what a reader sees.

unreadable(text): the reply for a chat message that cannot be read as an English
request (it carries control characters, it is written in another script, or it has no
words or numbers at all), or None.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TextIO

# ESC [ ... final byte (CSI), ESC ] ... BEL or ESC \ (OSC), other two-byte ESC sequences,
# and the 8-bit forms of CSI and OSC.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
_KEEP = frozenset("\t\n")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Symbols a chat message may consist of alone (they mean something to the agent).
SYMBOLS = frozenset({"?", "👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"})
EXAMPLES = '"make the sky blue", "add a hat" or "undo"'


def _dropped(ch: str) -> bool:
    if ch in _KEEP:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs")


def clean(text: str, keep: str = "") -> str:
    """`text` without escape sequences, control and format characters ("\\r\\n" and "\\r"
    become "\\n"); None stays None. keep: control characters to leave (a progress bar's
    "\\r" on a terminal)."""
    if text is None:
        return text
    text = str(text)
    if text.isascii() and text.isprintable():
        return text  # the common case costs one scan
    text = _ESCAPES.sub("", text)
    if "\r" not in keep:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in keep or not _dropped(ch))


def error_text(exc: BaseException) -> str:
    """An error in plain words: an OSError as "PATH: what happened" (without "[Errno N]"),
    anything else as its own text."""
    if isinstance(exc, OSError) and exc.strerror:
        what = exc.strerror[:1].lower() + exc.strerror[1:]
        return f"{exc.filename}: {what}" if exc.filename is not None else what
    return str(exc)


def has_controls(text: str) -> bool:
    """True when `text` carries an escape sequence, a control character other than tab
    and newline, or a text-direction override."""
    return any((_dropped(ch) and ch not in "\r\u200b\u200c\u200d\ufeff") or ch in _BIDI
               for ch in text)


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for ch in letters if ch.isascii() or "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def quote(text: str, limit: int = 40) -> str:
    text = " ".join(clean(text).split())
    return f"\"{text[:limit]}...\"" if len(text) > limit else f"\"{text}\""


def unreadable(text: str) -> str | None:
    """Why `text` cannot be read as a request (a reply in plain words), or None."""
    if not text or not text.strip():
        return None  # an empty message (perhaps with images) is answered elsewhere
    if has_controls(text):
        return ("I did not understand that message: it contains control characters (terminal "
                "escape codes or text-direction marks), so I did not act on it. Nothing was "
                "stored; please type it again as plain text.")
    stripped = clean(text).strip()
    if stripped in SYMBOLS:
        return None
    if not any(ch.isalnum() for ch in stripped):
        return (f"I did not understand {quote(stripped)}: it has no words. Nothing was stored; "
                f"try {EXAMPLES}.")
    if _latin_share(stripped) < 0.5:
        return (f"I did not understand {quote(stripped)}: I understand English requests only. "
                f"Nothing was stored; try {EXAMPLES}.")
    return None


class CleanStream:
    """A text stream that cleans everything written to it (for printing stored text)."""

    def __init__(self, stream: TextIO, keep: str = ""):
        self._stream = stream
        self._keep = keep

    def write(self, text: str) -> int:
        return self._stream.write(clean(text, self._keep))

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)
