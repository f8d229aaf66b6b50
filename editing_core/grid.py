"""The working size of a model: the image side it was trained at, capped by a setting.

A model edits best, and fastest, at the resolution it was trained at. That side is
read from the VAE's config (`sample_size`: 1024 for FLUX.1, 64 for the bundled toy
model); `MTEDIT_MAX_SIDE`, when set, can only lower it (for a small GPU). Larger
images are scaled down to it for editing and the result is scaled back up.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_SIDE = 1024  # FLUX.1's own resolution: for a config that does not say


def model_side(vae_config) -> int:
    """The image side the model was trained at, from its VAE config (`sample_size`)."""
    if isinstance(vae_config, Mapping):
        side = vae_config.get("sample_size")
    else:
        side = getattr(vae_config, "sample_size", None)
    if isinstance(side, (list, tuple)):
        side = max(side) if side else None
    if isinstance(side, bool) or not isinstance(side, int) or side <= 0:
        return DEFAULT_SIDE
    return side


def working_side(trained_side: int, max_side: int | None = None) -> int:
    """The long side edits run at: the model's side, or max_side when that is smaller."""
    if max_side is None:
        return int(trained_side)
    if int(max_side) < 8:
        raise ValueError(f"max_side must be at least 8 pixels, not {max_side}")
    return min(int(trained_side), int(max_side))
