"""One settings object, read from MTEDIT_* environment variables and an optional YAML file.

Precedence: explicit keyword arguments > environment > YAML file > defaults.
The defaults run with no GPU and no network: the bundled small model, the CPU,
a SQLite file in the per-user data folder and the offline planner.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import yaml

from toyworld import MODEL_DIR as BUNDLED_MODEL  # the shipped default model


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mtedit", appauthor=False))


@dataclass
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None  # None: sqlite:///<data_dir>/mtedit.db
    model: str = str(BUNDLED_MODEL)  # diffusers-format FLUX folder or a cached hub id
    device: str = "auto"  # auto | cpu | cuda | cuda:1 | mps
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    offload: str = "none"  # none | model | sequential
    max_side: int = 1024  # long side of the model grid, in pixels
    planner: str = "offline"  # offline | openai | anthropic | ollama
    planner_model: str | None = None
    planner_base_url: str | None = None
    planner_api_key: str | None = field(default=None, repr=False)
    planner_timeout: float = 60.0
    queue_url: str | None = None  # redis://host:6379/0: edits run on `mtedit worker`s
    queue_name: str = "mtedit"  # the Celery queue the app submits to and workers read
    job_stale_s: float = 30.0  # a job whose heartbeat is older is interrupted

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'mtedit.db'}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        config = env.get("MTEDIT_CONFIG")
        data_dir = Path(env.get("MTEDIT_DATA_DIR") or _default_data_dir())
        path = Path(config) if config else data_dir / "settings.yaml"
        if path.is_file():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a mapping of setting names to values")
            values.update(loaded)
        names = {f.name: f for f in dataclasses.fields(cls)}
        for name in names:
            key = f"MTEDIT_{name.upper()}"
            if env.get(key) not in (None, ""):
                values[name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        for name in ("max_side",):
            if name in values:
                values[name] = int(values[name])
        for name in ("planner_timeout", "job_stale_s"):
            if name in values:
                values[name] = float(values[name])
        return cls(**values)

    def as_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        d["data_dir"] = str(self.data_dir)
        if d.get("planner_api_key"):
            d["planner_api_key"] = "***"
        return d
