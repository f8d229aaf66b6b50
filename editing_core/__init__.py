"""editing_core: multi-turn consistent image editing on diffusers' FLUX components.

Knows nothing of chat or storage. See docs/architecture.md for the public names.
"""

from importlib import import_module

# Public names and their modules, imported on first use: `editing_core.presets` (the
# preset names and the strength mapping the agent and the app read) loads without torch.
_HOMES = {
    "Anchors": "backend", "EditResult": "backend", "FluxBackend": "backend",
    "DeviceOutOfMemory": "errors", "EditCancelled": "errors", "EditingError": "errors",
    "ImageInputError": "errors", "ModelLoadError": "errors",
    "latent_from_bytes": "latents", "latent_to_bytes": "latents",
    "PRESETS": "presets", "resolve_params": "presets",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'editing_core' has no attribute {name!r}")
    value = getattr(import_module(f"editing_core.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


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
