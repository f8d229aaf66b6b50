"""Shared fixtures. Models are built locally; nothing is downloaded."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One intra-op thread: the test models are tiny, and on a busy 2-core machine OpenMP
# threads waiting for each other made each forward ~20x slower (13 ms vs 270 ms).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(scope="session")
def tiny_flux_dir(tmp_path_factory):
    """A tiny random FLUX.1 [dev]-style folder (guidance embedding, shifted schedule)."""
    from editing_core.testing import build_tiny_flux

    return build_tiny_flux(tmp_path_factory.mktemp("tiny-flux") / "dev")


@pytest.fixture(scope="session")
def tiny_backend(tiny_flux_dir):
    """FluxBackend loaded from `tiny_flux_dir` on the CPU in float32."""
    from editing_core import FluxBackend

    return FluxBackend.from_pretrained(tiny_flux_dir, device="cpu", dtype="float32")
