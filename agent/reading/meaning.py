"""Meaning from a small embedding model that ships inside a package: WordLlama (its 16 MB
256-dimension weights and tokenizer are in the `wordllama` wheel; nothing is downloaded).

- nearest(word, vocabulary): the vocabulary word closest in meaning or spelling
  ("shades" ~ "sunglasses", "lab" ~ "labrador", "umbrelas" ~ "umbrellas", "dark" ~
  "night"), with its score and the runner-up's, so a caller can ask when it is close;
- intent(text): edit / move / question / setting / chat by the nearest labelled examples
  of prompts/intent_examples.yaml, with a confidence (the margin to the next kind).

The model loads once per process (0.3-0.8 s) on first use. MTEDIT_EMBEDDINGS=0 turns it
off (the rules alone decide; bench/planner.py and bench/navigation.py measure both).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

from agent.prompts import load_yaml

_LOCK = threading.Lock()


def enabled() -> bool:
    return os.environ.get("MTEDIT_EMBEDDINGS", "1").strip().lower() not in ("0", "false", "no",
                                                                             "off")


@functools.cache
def _model():
    """WordLlama from the package's own folder, never from a hub. (Importing it calls
    logging.basicConfig at INFO; a handler put on the root logger first makes that a
    no-op, so the process's logging stays as it was.)"""
    from pathlib import Path

    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        import wordllama
        from wordllama import WordLlama
    finally:
        if guard is not None:
            root.removeHandler(guard)
    with _LOCK:
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


@functools.lru_cache(maxsize=8192)
def _vector(text: str) -> np.ndarray:
    v = np.asarray(_model().embed([text])[0], dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n else v


def similarity(a: str, b: str) -> float:
    return float(_vector(a) @ _vector(b))


@dataclass(frozen=True)
class Near:
    word: str
    score: float
    runner_up: float


def nearest(word: str, vocabulary) -> Near | None:
    """The vocabulary entry closest to `word` (None when off or empty)."""
    words = sorted({w for w in vocabulary if w and w != word})
    if not enabled() or not words or not word:
        return None
    q = _vector(word)
    scores = np.array([float(q @ _vector(w)) for w in words])
    order = np.argsort(-scores)
    second = float(scores[order[1]]) if len(order) > 1 else -1.0
    return Near(words[int(order[0])], float(scores[order[0]]), second)


@functools.cache
def _examples() -> tuple[tuple[str, ...], np.ndarray]:
    data = load_yaml("intent_examples.yaml")
    labels, texts = [], []
    for label, items in data.items():
        for text in items:
            labels.append(label)
            texts.append(str(text).lower())
    return tuple(labels), np.stack([_vector(t) for t in texts])


@dataclass(frozen=True)
class Reading:
    kind: str  # edit | move | question | setting | chat
    confidence: float  # the best kind's score minus the next kind's, 0..1
    scores: dict


def intent(text: str, k: int = 3) -> Reading | None:
    """The kind of message by its k nearest labelled examples per kind (None when off)."""
    if not enabled() or not text.strip():
        return None
    labels, matrix = _examples()
    sims = matrix @ _vector(text.lower())
    by_kind: dict[str, list[float]] = {}
    for label, s in zip(labels, sims, strict=True):
        by_kind.setdefault(label, []).append(float(s))
    scores = {kind: float(np.mean(sorted(v, reverse=True)[:k])) for kind, v in by_kind.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
    return Reading(ranked[0][0], max(0.0, min(1.0, margin)), scores)
