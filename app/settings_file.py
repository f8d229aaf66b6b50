"""Saving the settings panel's app settings where Settings.from_env reads them: the file
named by MTEDIT_CONFIG, else settings.yaml in the data folder."""

from __future__ import annotations

from pathlib import Path

import yaml

from mtedit.settings import settings_file


def save_user_settings(values: dict, env: dict[str, str] | None = None) -> Path:
    """Merge `values` into the settings file (empty values remove their key); its path."""
    path = settings_file(env)
    current = {}
    if path.is_file():
        current = yaml.safe_load(path.read_text()) or {}
    current.update({k: v for k, v in values.items() if v not in (None, "")})
    for key in [k for k, v in values.items() if v in (None, "")]:
        current.pop(key, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(current, sort_keys=True))
    return path
