"""One settings object, read from MTEDIT_* environment variables and an optional YAML file.

Precedence: explicit keyword arguments > environment > YAML file > defaults.
The defaults run with no GPU and no network: the bundled small model, the CPU,
a SQLite file in the per-user data folder and the offline planner.

Every value is validated once, here (pydantic): a wrong one raises SettingsError, whose
message names the key, where it came from, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import field
from pathlib import Path
from typing import Literal

import platformdirs
import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from toyworld import MODEL_DIR as BUNDLED_MODEL  # the shipped default model

MAX_SIDE_RANGE = (32, 8192)
THREADS_RANGE = (1, 1024)
IMPORT_MAX_MB_RANGE = (1, 1_000_000)
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


class SettingsError(ValueError):
    """A setting has a value that is not allowed; the message says which and why."""


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("mtedit", appauthor=False))


# What each setting allows, in words (used in error messages).
ALLOWED = {
    "data_dir": "a folder path",
    "database_url": "a SQLAlchemy URL such as sqlite:////path/to/mtedit.db or "
    "postgresql+psycopg://user@host/db",
    "model": "a diffusers-format FLUX.1 folder or a cached hub id",
    "device": "auto, cpu, cuda, cuda:N or mps (and the device must be present)",
    "dtype": "auto, float32, bfloat16 or float16",
    "offload": "none, model or sequential",
    "max_side": f"a whole number of pixels from {MAX_SIDE_RANGE[0]} to {MAX_SIDE_RANGE[1]}, "
    "or unset (the model's own side)",
    "threads": f"a whole number from {THREADS_RANGE[0]} to {THREADS_RANGE[1]}, or unset "
    "(every core but one)",
    "planner": "offline, openai, anthropic or ollama",
    "planner_model": "a model name",
    "planner_base_url": "a URL",
    "planner_api_key": "a key",
    "planner_timeout": "seconds, more than 0 and at most 3600",
    "region": "none (edit everything), auto (limit each local edit to where it acts) or "
    "unset (the model folder's measured choice)",
    "import_max_mb": f"megabytes, a whole number from {IMPORT_MAX_MB_RANGE[0]} to "
    f"{IMPORT_MAX_MB_RANGE[1]}",
    "queue_url": "a Redis URL such as redis://host:6379/0 (unset: edits run in the app)",
    "queue_name": "a Celery queue name",
    "job_stale_s": "seconds, more than 0 and at most 86400",
}


@dataclass(config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None  # None: sqlite:///<data_dir>/mtedit.db
    model: str = str(BUNDLED_MODEL)  # diffusers-format FLUX folder or a cached hub id
    device: str = "auto"  # auto | cpu | cuda | cuda:1 | mps
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    offload: Literal["none", "model", "sequential"] = "none"
    # torch threads for edits; None: every core but one (the web page keeps one)
    threads: int | None = Field(None, ge=THREADS_RANGE[0], le=THREADS_RANGE[1])
    # cap on the editing grid's long side; None: the side the model was trained at
    max_side: int | None = Field(None, ge=MAX_SIDE_RANGE[0], le=MAX_SIDE_RANGE[1])
    planner: Literal["offline", "openai", "anthropic", "ollama"] = "offline"
    planner_model: str | None = None
    planner_base_url: str | None = None
    planner_api_key: str | None = field(default=None, repr=False)
    planner_timeout: float = Field(60.0, gt=0, le=3600, allow_inf_nan=False)
    import_max_mb: int = Field(2048, ge=IMPORT_MAX_MB_RANGE[0], le=IMPORT_MAX_MB_RANGE[1])
    queue_url: str | None = None  # redis://host:6379/0: edits run on `mtedit worker`s
    queue_name: str = "mtedit"  # the Celery queue the app submits to and workers read
    job_stale_s: float = Field(30.0, gt=0, le=86400, allow_inf_nan=False)  # heartbeat age limit
    # where a local edit may change the image when the user marked nothing: none (anywhere)
    # or auto (where the edit acts, found by the model); None: the model folder's choice
    region: Literal["none", "auto"] | None = None

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://")):
            raise ValueError("not a Redis URL (redis://host:6379/0)")
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value):
        if isinstance(value, str):
            value = value.strip().lower()
            return None if value in ("", "model", "default") else value
        return value

    @field_validator("max_side", "threads", mode="before")
    @classmethod
    def _unset(cls, value):
        if isinstance(value, str) and value.strip().lower() in ("", "none", "auto", "model"):
            return None
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _path(cls, value):
        if isinstance(value, str) and value.strip():
            return Path(value).expanduser()
        if isinstance(value, Path):
            return value.expanduser()
        raise ValueError("not a folder path")

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value):
        if isinstance(value, Path):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ValueError("empty")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DEVICE.fullmatch(value):
            raise ValueError("unknown device")
        problem = device_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        if "://" not in value:
            raise ValueError("not a database URL")
        try:
            make_url(value).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        except ImportError:  # a known dialect whose driver is missing: said when connecting
            pass
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'mtedit.db'}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        sources: dict[str, str] = {}
        names = [f.name for f in dataclasses.fields(cls)]
        path = settings_file(env)
        if env.get("MTEDIT_CONFIG") and path.exists() and not path.is_file():
            raise SettingsError(f"{path} (from MTEDIT_CONFIG) is not a file; set MTEDIT_CONFIG "
                                "to a YAML file of settings, or unset it")
        if path.is_file():
            values.update(read_settings_file(path, names))
            sources.update({k: str(path) for k in values})
        for name in names:
            key = f"MTEDIT_{name.upper()}"
            if env.get(key) not in (None, ""):
                values[name] = env[key]
                sources[name] = key
        for k, v in overrides.items():
            if v is not None:
                values[k] = v
                sources[k] = "argument"
        unknown = sorted(set(values) - set(names))
        if unknown:
            where = ", ".join(f"{k} (in {sources.get(k, 'arguments')})" for k in unknown)
            raise SettingsError(
                f"unknown setting{'s' if len(unknown) > 1 else ''}: {where}; "
                f"known settings: {', '.join(names)}"
            )
        return cls.validated(values, sources)

    @classmethod
    def validated(cls, values: dict, sources: dict | None = None) -> Settings:
        """Settings(**values), with a SettingsError naming every bad key and value."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, values, sources or {})) from None

    def as_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        d["data_dir"] = str(self.data_dir)
        if d.get("planner_api_key"):
            d["planner_api_key"] = "***"
        return d


def settings_file(env: dict[str, str] | None = None) -> Path:
    """The settings file from_env reads (and the app's settings panel writes): the one named
    by MTEDIT_CONFIG, else settings.yaml in the data folder."""
    env = os.environ if env is None else env
    if config := env.get("MTEDIT_CONFIG"):
        return Path(config).expanduser()
    return Path(env.get("MTEDIT_DATA_DIR") or _default_data_dir()).expanduser() / "settings.yaml"


def read_settings_file(path: Path, names=()) -> dict:
    """The mapping in a settings YAML file; SettingsError for bad YAML or another shape."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SettingsError(
            f"{path}: not valid YAML{at} ({problem}); expected lines such as `max_side: 1024`"
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(
            f"{path}: expected a mapping of setting names to values (lines such as "
            f"`max_side: 1024`), found a {type(loaded).__name__}"
        )
    return {str(k): v for k, v in loaded.items()}


def _explain(exc: ValidationError, values: dict, sources: dict) -> str:
    parts = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err.get("loc") else "?"
        value = values.get(key, err.get("input"))
        where = sources.get(key)
        shown = repr(value) if not isinstance(value, Path) else repr(str(value))
        if len(shown) > 80:
            shown = shown[:77] + "..."
        label = f"{key} = {shown}" + (f" (from {where})" if where else "")
        reason = err.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{label}: {reason}; allowed: {ALLOWED.get(key, 'see the README')}")
    return "invalid setting" + ("s" if len(parts) > 1 else "") + ": " + " | ".join(parts)


def device_problem(device: str) -> str | None:
    """Why `device` cannot be used on this machine, or None (auto and cpu always can)."""
    if device in ("auto", "cpu"):
        return None
    try:
        import torch
    except ImportError:  # no torch: the model cannot load anyway, said there
        return None
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return "this machine has no CUDA device (or torch was built without CUDA)"
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            return f"there are only {torch.cuda.device_count()} CUDA devices"
    if device == "mps" and not (getattr(torch.backends, "mps", None)
                                and torch.backends.mps.is_available()):
        return "this machine has no MPS (Apple GPU) device"
    return None
