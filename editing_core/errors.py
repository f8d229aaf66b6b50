"""Errors the editing core raises with messages meant for the person using it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class EditingError(RuntimeError):
    """Base class of editing_core's errors."""


class ModelLoadError(EditingError):
    """The model folder or one of its parts is missing or unreadable."""


class ImageInputError(EditingError, ValueError):
    """An input image that cannot be used (not an image, empty, corrupt, too large)."""


class EditCancelled(EditingError):
    """The cancel callback asked to stop; nothing was produced."""


class DeviceOutOfMemory(EditingError):
    """The accelerator ran out of memory during an edit or while loading."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the accelerator's out-of-memory errors (CUDA, MPS, or their messages)."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


@contextlib.contextmanager
def out_of_memory_as_error(what: str) -> Iterator[None]:
    """Re-raise an out-of-memory error inside the block as DeviceOutOfMemory that says
    what ran out and what to change; the innermost block names the operation."""
    try:
        yield
    except DeviceOutOfMemory:
        raise
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise DeviceOutOfMemory(
            f"out of accelerator memory while {what}. Try MTEDIT_OFFLOAD=model (or sequential), "
            "a smaller MTEDIT_MAX_SIDE, or MTEDIT_DTYPE=bfloat16."
        ) from exc
