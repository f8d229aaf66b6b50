"""editing_core: multi-turn consistent image editing on diffusers' FLUX components.

Knows nothing of chat or storage. See docs/architecture.md for the public names.
"""

from editing_core.backend import Anchors, EditResult, FluxBackend
from editing_core.errors import (
    DeviceOutOfMemory,
    EditCancelled,
    EditingError,
    ImageInputError,
    ModelLoadError,
)
from editing_core.latents import latent_from_bytes, latent_to_bytes
from editing_core.presets import PRESETS, resolve_params

__all__ = [
    "PRESETS",
    "Anchors",
    "DeviceOutOfMemory",
    "EditCancelled",
    "EditResult",
    "EditingError",
    "FluxBackend",
    "ImageInputError",
    "ModelLoadError",
    "latent_from_bytes",
    "latent_to_bytes",
    "resolve_params",
]
