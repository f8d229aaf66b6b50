"""Errors the editing core raises with messages meant for the person using it."""

from __future__ import annotations


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
