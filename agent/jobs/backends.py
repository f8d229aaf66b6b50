"""The process's models: one backend per model settings, loaded once and shared, and one
lock per loaded backend (diffusers models are not thread-safe)."""

from __future__ import annotations

import threading

from mtedit.settings import Settings

_BACKENDS: dict[tuple, object] = {}
_LOCKS: dict[int, threading.Lock] = {}
_LOCK = threading.Lock()


def load_backend(settings: Settings):
    """The process's backend for these settings (loaded once, then shared)."""
    key = (settings.model, settings.device, settings.dtype, settings.offload, settings.max_side)
    with _LOCK:
        if key in _BACKENDS:
            return _BACKENDS[key]
    from editing_core import FluxBackend

    backend = FluxBackend.from_pretrained(settings.model, device=settings.device,
                                          dtype=settings.dtype, offload=settings.offload,
                                          max_side=settings.max_side)
    with _LOCK:
        return _BACKENDS.setdefault(key, backend)


def backend_lock(backend) -> threading.Lock:
    """The lock every job on this backend holds while it runs."""
    with _LOCK:
        return _LOCKS.setdefault(id(backend), threading.Lock())
