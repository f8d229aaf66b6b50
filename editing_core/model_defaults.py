"""A model folder's own measured edit defaults and its reader, read without loading the
model.

A diffusers FLUX folder may carry `mtedit.json` beside `model_index.json`:

    {"edit_defaults": {"preset": "rf", "steps": 9}, "reader": "toyworld.reader", "why": "..."}

The preset that serves one model best is a measurement of that model (`mtedit bench
toy` for the bundled one); a folder without the file gets the project's defaults.
`reader` names an installed module that reads the model's pictures (editing_core/checks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

FILE = "mtedit.json"


def _file(model: str | Path) -> dict:
    try:
        data = json.loads((Path(str(model)).expanduser() / FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_edit_defaults(model: str | Path) -> dict:
    """The folder's `edit_defaults` mapping, or {} (no folder, no file, unreadable)."""
    defaults = _file(model).get("edit_defaults")
    return dict(defaults) if isinstance(defaults, dict) else {}


def model_reader_name(model: str | Path) -> str | None:
    """The module the folder names as its reader, or None."""
    name = _file(model).get("reader")
    return name.strip() if isinstance(name, str) and name.strip() else None
