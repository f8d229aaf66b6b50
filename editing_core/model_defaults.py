"""A model folder's own measured edit defaults, read without loading the model.

A diffusers FLUX folder may carry `mtedit.json` beside `model_index.json`:

    {"edit_defaults": {"preset": "rf", "steps": 9}, "why": "..."}

The preset that serves one model best is a measurement of that model (`mtedit bench
toy` for the bundled one); a folder without the file gets the project's defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

FILE = "mtedit.json"


def model_edit_defaults(model: str | Path) -> dict:
    """The folder's `edit_defaults` mapping, or {} (no folder, no file, unreadable)."""
    try:
        data = json.loads((Path(str(model)).expanduser() / FILE).read_text())
    except (OSError, ValueError):
        return {}
    defaults = data.get("edit_defaults") if isinstance(data, dict) else None
    return dict(defaults) if isinstance(defaults, dict) else {}
