"""How long a job will take, from this process's own measurements; and the executor's threads.

Each finished edit step records its wall time per model call for (model, grid tokens):
the step's model calls, its decode and its save, divided by its model calls. A job's
estimate is its model calls times that figure at its size; before any step at that
size has run in this process there is no figure ("first edit: measuring"). The plan
reply and the progress bar use the same figure, so the number a user reads before
the wait is the one the bar counts down.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

_LOCK = threading.Lock()
_SECONDS_PER_CALL: dict[tuple[str, int], float] = {}
_KEEP = 0.5  # weight of the previous figure when a new step is recorded


@dataclass(frozen=True)
class Estimate:
    calls: int  # model calls of the whole job (0 when unknown)
    tokens: int | None  # image tokens per model call (None while the model is not loaded)
    seconds_per_call: float | None  # None: nothing measured at this size yet

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_call is None or not self.calls:
            return None
        return self.calls * self.seconds_per_call


def tokens_of_latent(shape) -> int:
    """Image tokens of a clean latent [1, C, h, w]: FLUX packs 2x2 latent pixels per token."""
    return (int(shape[-2]) // 2) * (int(shape[-1]) // 2)


def model_key(backend) -> str:
    return str(getattr(backend, "model_id", "") or id(backend))


def record(backend, tokens: int, seconds: float, calls: int) -> None:
    """One finished step: `seconds` of wall time for `calls` model calls at `tokens`."""
    if calls <= 0 or seconds <= 0:
        return
    key = (model_key(backend), int(tokens))
    figure = seconds / calls
    with _LOCK:
        old = _SECONDS_PER_CALL.get(key)
        _SECONDS_PER_CALL[key] = figure if old is None else _KEEP * old + (1 - _KEEP) * figure


def seconds_per_call(backend, tokens: int | None) -> float | None:
    if backend is None or tokens is None:
        return None
    with _LOCK:
        return _SECONDS_PER_CALL.get((model_key(backend), int(tokens)))


def forget() -> None:
    """Drop every measurement (tests)."""
    with _LOCK:
        _SECONDS_PER_CALL.clear()


def job_calls(spec) -> int:
    """Model calls of a job spec (agent.jobs.spec.JobSpec): every step with its preset."""
    from editing_core.presets import edit_nfe, resolve_params

    try:
        params = resolve_params(spec.preset, spec.overrides)
    except ValueError:
        return 0
    if spec.kind == "generate":
        return edit_nfe(params, inversion=False)
    model_steps = [s for s in spec.steps if s.get("kind") != "op"]  # exact operations: none
    return edit_nfe(params) * len(model_steps)


def grid_tokens(backend, width: int | None, height: int | None) -> int | None:
    """Image tokens of a (width, height) image on the backend's editing grid."""
    side, grid = getattr(backend, "max_side", None), getattr(backend, "grid", None)
    if not side or not grid or not width or not height:
        return None  # no backend yet (or one that does not say its grid)
    from editing_core.images import grid_size

    w, h = grid_size(int(width), int(height), side, grid)
    return (w // grid) * (h // grid)


def estimate(spec, backend, size: tuple[int, int] | None) -> Estimate:
    """The job's estimate; `size` is the (W, H) of the image it edits (None: a generation
    at the model's own size, or unknown)."""
    calls = job_calls(spec)
    tokens = None
    if backend is not None:
        if spec.kind == "generate":
            side = getattr(backend, "native_side", None)
            tokens = grid_tokens(backend, spec.width or side, spec.height or side)
        elif size is not None:
            tokens = grid_tokens(backend, *size)
    return Estimate(calls, tokens, seconds_per_call(backend, tokens))


def eta(done: int, total: int, elapsed: float, figure: float | None) -> float | None:
    """Seconds left: the measured figure per remaining call; without one, the pace of
    this job so far (None before its first model call)."""
    left = max(0, total - done)
    if figure is not None:
        return left * figure
    if done > 0 and left:
        return elapsed / done * left
    return None


def say_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{seconds / 60:.0f} min"


def plan_line(calls: int, seconds: float | None) -> str:
    """One sentence for the plan reply: roughly how long, or that the first edit measures
    ("" for a job without model calls, or one not planned yet)."""
    if not calls:
        return ""
    what = f"{calls} model calls"
    if seconds is None:
        return f"First edit at this size: measuring how long a model call takes ({what})."
    each = f" at {seconds / calls:.2f} s each" if calls else ""
    return f"This takes about {say_seconds(seconds)} ({what}{each}, as measured here)."


# -- threads --------------------------------------------------------------------------


def default_threads() -> int:
    """Torch threads for the executor: every core but one, so that the web server keeps a
    core while an edit runs (all of them on a 1-core machine)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)


def configure_threads(threads: int | None) -> int:
    """Set torch's intra-op threads for the process's model calls; returns the number."""
    import torch

    n = default_threads() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
