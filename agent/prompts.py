"""Loading the data files in prompts/ (templates, few-shot examples, recipes, word lists)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@functools.cache
def load_yaml(name: str) -> dict:
    path = PROMPTS_DIR / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a mapping at the top level")
    return data


@functools.cache
def load_text(name: str) -> str:
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def vocabulary() -> dict:
    return load_yaml("vocabulary.yaml")


def recipes() -> dict:
    return load_yaml("recipes.yaml")


def alternation(words: Iterable[str]) -> str:
    """A word list as a regex alternation, longest first ("take off|take|make")."""
    return "|".join(re.escape(str(w)) for w in sorted(words, key=lambda w: len(str(w)),
                                                         reverse=True))
