"""Pasting an edit back over the previous image: exact outside, feathered inward, no seam."""

import numpy as np
import pytest
from PIL import Image

from editing_core.composite import composite, feather_alpha, inner_distance, seam_delta


def _img(a):
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _striped(h=64, w=64):
    a = np.zeros((h, w, 3), np.float32)
    a[:] = (40, 170, 60)
    for y in range(h):
        if (y // 4) % 2:
            a[y] = (33, 139, 49)
    return a


def test_every_pixel_outside_the_mask_is_the_previous_ones():
    rng = np.random.default_rng(0)
    prev = rng.integers(0, 256, (29, 37, 3)).astype(np.uint8)
    res = rng.integers(0, 256, (29, 37, 3)).astype(np.uint8)
    mask = rng.random((29, 37)) < 0.4
    out = np.asarray(composite(Image.fromarray(res), Image.fromarray(prev), mask, feather=3))
    assert (out[~mask] == prev[~mask]).all()
    assert (out[mask] != prev[mask]).any()
    with pytest.raises(ValueError, match="one size"):
        composite(Image.fromarray(res), Image.fromarray(prev[:20]), mask)


def test_the_feather_runs_inward_from_the_border():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    d = inner_distance(mask, 10)
    assert d[5, 5] == 1 and d[6, 6] == 2 and d[9, 9] == 5 and d[0, 0] == 0
    alpha = feather_alpha(mask, 2)
    assert alpha[~mask].max() == 0
    assert alpha[5, 10] == pytest.approx(1 / 3) and alpha[6, 10] == pytest.approx(2 / 3)
    assert alpha[7:13, 7:13].min() == 1.0
    # The image frame is not a border: a mask touching it is not feathered there.
    edge = np.zeros((10, 10), bool)
    edge[:, :5] = True
    assert feather_alpha(edge, 2)[3, 0] == 1.0 and feather_alpha(edge, 2)[3, 4] < 1.0
    prev, res = np.zeros((20, 20, 3)), np.full((20, 20, 3), 90.0)
    out = np.asarray(composite(_img(res), _img(prev), mask, feather=2, seam=False))
    assert out[5, 10, 0] == 30 and out[6, 10, 0] == 60 and out[10, 10, 0] == 90


def test_the_seam_correction_removes_a_tone_shift_and_keeps_the_edit():
    """A regenerated area a few levels off the previous image's shade (what a model does
    to a flat background) shows a step at the mask's border; the correction removes it,
    and an object recoloured inside keeps its new colour."""
    prev = _striped()
    res = prev + np.array([10.0, -8.0, 12.0])  # the model's tone shift over the region
    res[26:38, 26:38] = (220, 40, 40)  # the edit: a red square
    mask = np.zeros((64, 64), bool)
    mask[14:50, 14:50] = True
    plain = composite(_img(res), _img(prev), mask, feather=2, seam=False)
    fixed = composite(_img(res), _img(prev), mask, feather=2, seam=True, ring=4, sigma=8,
                      reach=16)
    before, after = seam_delta(plain, _img(prev), mask), seam_delta(fixed, _img(prev), mask)
    assert before > 2.5 and after < before / 3
    f = np.asarray(fixed).astype(float)
    assert np.abs(f[~mask] - prev[~mask]).max() == 0
    assert np.abs(f[30:34, 30:34] - (220, 40, 40)).max() <= 6  # the edit stays
    # Near the border the background is back on the previous shade.
    assert np.abs(f[15:17, 20:44] - prev[15:17, 20:44]).mean() < 2.0


def test_an_edit_that_reaches_the_border_is_not_taken_for_a_tone_shift():
    prev = np.full((48, 48, 3), 245.0)  # a white background ...
    res = np.full((48, 48, 3), 245.0)
    res[10:38, 10:38] = (40, 80, 220)  # ... and a blue square filling the mask
    mask = np.zeros((48, 48), bool)
    mask[10:38, 10:38] = True
    out = np.asarray(composite(_img(res), _img(prev), mask, feather=0, seam=True)).astype(float)
    assert np.abs(out[mask] - (40, 80, 220)).max() == 0


def test_seam_delta_counts_only_steps_the_edit_made():
    prev = _striped()
    mask = np.zeros((64, 64), bool)
    mask[10:30, 10:30] = True
    assert seam_delta(_img(prev), _img(prev), mask) == 0.0  # stripes cross the border: no step
    shifted = prev.copy()
    shifted[mask] += 6
    assert seam_delta(_img(shifted), _img(prev), mask) == pytest.approx(6.0)
    assert seam_delta(_img(prev), _img(prev), np.zeros((64, 64), bool)) is None
    assert seam_delta(_img(prev), _img(prev), np.ones((64, 64), bool)) is None
