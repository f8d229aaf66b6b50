"""Region-limited edits: outside the region nothing moves, in the sampler and in pixels."""

import numpy as np
import pytest
import torch
from PIL import Image

from bench.reconstruct import calibration_card
from editing_core import Anchors
from editing_core.region import Region, Trajectory, any_coverage, as_region, token_mask
from editing_core.solvers import SOLVERS

PRESETS = ("mtc", "fireflow", "rf_solver", "rf_inversion", "rf")
FAST = {"mtc": 3, "fireflow": 3, "rf_solver": 2, "rf_inversion": 3, "rf": 3}


@pytest.fixture(scope="module")
def card():
    return calibration_card(40).resize((37, 29))


def _box(size, x0, y0, x1, y1):
    m = np.zeros((size[1], size[0]), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize("preset", PRESETS)
def test_outside_the_mask_the_result_is_the_previous_image_byte_for_byte(tiny_backend, card,
                                                                          preset):
    mask = _box(card.size, 5, 4, 21, 17)
    r = tiny_backend.edit(card, "a picture", "a red picture", focus_words=["red"], preset=preset,
                          overrides={"steps": FAST[preset]}, region=mask, seed=3)
    out, before = np.asarray(r.image), np.asarray(card)
    assert r.image.size == card.size
    assert (out[~mask] == before[~mask]).all()
    assert (out[mask] != before[mask]).any()  # the edit did act inside
    info = r.params["region"]
    assert info["source"] == "given" and info["coverage"] == pytest.approx(mask.mean(), abs=1e-4)
    assert info["status"] == "ok" and 0 < info["free_tokens"] <= 1 and info["dilation"] == 1


@pytest.mark.parametrize("preset", PRESETS)
def test_a_chained_latent_keeps_the_stored_image_outside_and_its_latent_outside_the_tokens(
        tiny_backend, card, preset):
    x0 = tiny_backend.encode_image(card)  # [1, 4, 8, 10]: tokens 4 x 5 (8 px each)
    previous = card.resize((40, 32))  # the stored image of the node being edited
    mask = _box((40, 32), 0, 0, 6, 5)  # top-left corner: token (0, 0) only
    r = tiny_backend.edit(x0, "a picture", "a blue picture", preset=preset,
                          anchors=Anchors(source=x0 * 0.5, previous=x0),
                          overrides={"steps": FAST[preset]}, region=mask, previous_image=previous)
    assert (np.asarray(r.image)[~mask] == np.asarray(previous)[~mask]).all()
    free = token_mask(mask, (8, 10))  # token (0, 0) and its ring: rows 0-1, columns 0-1
    assert free.sum() == 4 and free[:2, :2].all()
    keep = ~torch.from_numpy(free).repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert torch.equal(r.latent[0][:, keep], x0[0][:, keep])  # exactly the source latent
    assert not torch.equal(r.latent[0][:, ~keep], x0[0][:, ~keep])


def test_a_one_pixel_mask_marks_its_token_by_any_coverage():
    mask = np.zeros((64, 64), dtype=bool)
    mask[17, 47] = True  # token (2, 5) of an 8 x 8 grid, near its corner: nearest misses it
    assert any_coverage(mask, 8, 8).sum() == 1 and any_coverage(mask, 8, 8)[2, 5]
    nearest = np.asarray(Image.fromarray(mask).resize((8, 8), Image.Resampling.NEAREST))
    assert not nearest.any()
    free = token_mask(mask, (16, 16))  # dilated by one token: rows 1-3, columns 4-6
    assert free.sum() == 9 and free[1:4, 4:7].all()
    # A pixel on a boundary between two tokens of a non-whole ratio marks both.
    odd = np.zeros((29, 37), dtype=bool)
    odd[0, 18] = True  # 37 px over 5 tokens of 7.4 px: pixel 18 lies inside token 2
    assert any_coverage(odd, 4, 5)[0].tolist() == [False, False, True, False, False]
    odd[0, 14] = True  # 14.0-15.0 lies in token 1 (7.4-14.8) and token 2 (14.8-22.2)
    assert any_coverage(odd, 4, 5)[0].tolist() == [False, True, True, False, False]


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_the_sampler_resets_to_the_inversion_state_after_every_step(solver):
    torch.manual_seed(0)
    x0 = torch.randn(1, 6, 4)
    free = np.array([True, False, False, True, False, True])
    grid = [1.0, 0.7, 0.4, 0.1, 0.0]
    traj = Trajectory(x0, free)
    noise = SOLVERS[solver](lambda x, t, **_: torch.sin(3 * x) + t, x0, grid[::-1],
                            after_step=traj.record)
    assert len(traj.states) == 5 and traj.times == grid[::-1]
    seen = []
    out = SOLVERS[solver](lambda x, t, **_: torch.cos(x) - 2 * t, noise, grid,  # another field
                          callback=lambda info: seen.append(info),
                          after_step=lambda x, i, t: seen.append((i, t, traj.reset(x, i, t)))
                          or seen[-1][2])
    keep = torch.from_numpy(~free)
    resets = [s for s in seen if isinstance(s, tuple)]
    assert [r[1] for r in resets] == grid[1:]
    for i, t, x in resets:  # after step i the kept tokens are the inversion's at that time
        assert torch.equal(x[0, keep], traj.states[len(grid) - 2 - i][0, keep])
    assert torch.equal(out[0, keep], x0[0, keep])
    assert not torch.allclose(out[0, ~keep], x0[0, ~keep])


def test_region_none_is_the_edit_of_before_bit_for_bit(tiny_backend, card):
    a = tiny_backend.edit(card, "a picture", "a red picture", overrides={"steps": 3}, seed=2)
    b = tiny_backend.edit(card, "a picture", "a red picture", overrides={"steps": 3}, seed=2,
                          region=None)
    assert torch.equal(a.latent, b.latent) and a.image.tobytes() == b.image.tobytes()
    assert "region" not in b.params


def test_masks_of_every_kind_are_read_alike_and_bad_ones_refused_in_plain_words(tiny_backend,
                                                                                 card):
    mask = _box(card.size, 3, 3, 12, 10)
    img = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    for kind in (mask, mask.astype(np.float32), img, torch.from_numpy(mask), Region(mask)):
        assert (as_region(kind).mask == mask).all()
    assert as_region(None) is None
    r = Region(mask)
    assert r.status == "ok" and not r.empty and 0 < r.coverage < 0.2
    assert Region(np.zeros((4, 4), bool)).status == "empty"
    assert Region(np.ones((4, 4), bool)).status == "most"
    with pytest.raises(ValueError, match="region is empty"):
        tiny_backend.edit(card, "a", "b", overrides={"steps": 1}, region=np.zeros((29, 37), bool))
    with pytest.raises(ValueError, match="2-D"):
        tiny_backend.edit(card, "a", "b", overrides={"steps": 1}, region=np.ones((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="previous image's size"):
        tiny_backend.edit(card, "a", "b", overrides={"steps": 1}, region=mask,
                          output_size=(20, 20))
    # A mask drawn at another size is fitted to the image (any coverage: never smaller).
    big = np.kron(mask, np.ones((2, 2), bool))
    r = tiny_backend.edit(card, "a", "b", overrides={"steps": 1}, region=big)
    assert (np.asarray(r.image)[~mask] == np.asarray(card)[~mask]).all()


def test_cli_edit_with_a_mask_image_or_an_automatic_region(tiny_flux_dir, tmp_path, capsys):
    from mtedit.cli import main

    card = calibration_card(40).resize((30, 22))
    card.save(tmp_path / "in.png")
    mask = _box((30, 22), 4, 4, 14, 12)
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(tmp_path / "mask.png")
    base = ["edit", str(tmp_path / "in.png"), "--source", "a picture", "--target",
            "a red picture", "--steps", "2", "--model", str(tiny_flux_dir), "-o",
            str(tmp_path / "out.png")]
    assert main([*base, "--region", str(tmp_path / "mask.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert (out[~mask] == np.asarray(card)[~mask]).all()
    assert main([*base, "--region", "auto"]) == 0
    assert "region: automatic" in capsys.readouterr().err
    same = ["edit", str(tmp_path / "in.png"), "--source", "a picture", "--target", "a picture",
            "--steps", "2", "--model", str(tiny_flux_dir), "-o", str(tmp_path / "x.png")]
    assert main([*same, "--region", "auto"]) == 1
    assert "automatic region is empty" in capsys.readouterr().err
    assert main([*base, "--region", str(tmp_path / "nope.png")]) == 1
    assert "not found" in capsys.readouterr().err


def test_a_dragged_box_an_inverted_region_and_a_stored_mask():
    box = Region.box((37, 29), 30, 20, 10, 5)  # corners in any order
    assert box.mask.shape == (29, 37) and box.mask.sum() == 20 * 15
    assert box.mask[5:20, 10:30].all()
    assert Region.box((10, 10), -5, -5, 3, 100).mask.sum() == 3 * 10  # clipped
    assert (box.inverted().mask == ~box.mask).all()
    again = as_region(box.png())  # what a lineage node would store, read back
    assert (again.mask == box.mask).all() and again.source == "given"
