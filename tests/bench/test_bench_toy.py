"""`mtedit bench toy`: the figures see drift, and what they see is right.

Most tests drive the benchmark with stand-in editors built from the world's renderer
(no model): an oracle that draws the ground truth, and two broken ones the figures must
catch. The model-call counts use the tiny random FLUX.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from bench import toy as bench
from mtedit.cli import main
from toyworld import world as W


class WorldEditor:
    """A backend whose latent is the image itself (an exact VAE), editing by the renderer.

    oracle: returns the ground-truth render of the target caption.
    revert: makes this turn's change on the ORIGINAL image (anchors.source), so every
            earlier edit is undone: each turn's own edit is still right.
    noise:  makes this turn's change on the image it is given, plus Gaussian noise.
    """

    def __init__(self, sequences, mode="oracle", sigma=4.0):
        self.scenes = {}
        for scene, edits in sequences:
            for s in (scene, *(e.after for e in edits)):
                self.scenes[W.caption(s)] = s
        self.mode, self.sigma = mode, sigma
        self.sources = []  # what each edit was given
        self.outputs = []  # what each edit returned
        self.rng = np.random.default_rng(0)
        self.regions = []  # the region each edit was given
        self.leak = False  # True: ignore the region (a broken core the figures must catch)
        self.auto = lambda before, after: (before != after).any(-1)  # the changed pixels

    def auto_region(self, latent, source_prompt, target_prompt, focus_words, seed, *, size):
        from editing_core.region import Region

        before = np.asarray(W.render(self.scenes[source_prompt]))
        after = np.asarray(W.render(self.scenes[target_prompt]))
        return Region(self.auto(before, after), source="velocity", nfe=4)

    def encode_image(self, img):
        a = np.asarray(img.convert("RGB"), dtype=np.float32)
        return torch.from_numpy(a).permute(2, 0, 1)[None].clone()

    def decode_latent(self, z, size=None):
        a = z[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
        return Image.fromarray(a, "RGB")

    def edit(self, source, source_prompt, target_prompt, *, anchors, focus_words=(),
             preset="mtc", overrides=None, seed=0, output_size=None, region=None,
             previous_image=None):  # fmt: skip
        self.sources.append(source.clone())
        self.regions.append(region)
        before = np.asarray(W.render(self.scenes[source_prompt]), dtype=np.float32)
        after = np.asarray(W.render(self.scenes[target_prompt]), dtype=np.float32)
        changed = (before != after).any(-1, keepdims=True)
        if self.mode == "oracle":
            out = after
        else:
            base = anchors.source if self.mode == "revert" else source
            base = base[0].permute(1, 2, 0).numpy()
            out = np.where(changed, after, base)
            if self.mode == "noise":
                out = out + self.rng.normal(0, self.sigma, out.shape)
        if region is not None and not self.leak:  # pasted over the previous image, as the core
            prev = np.asarray(previous_image, dtype=np.float32)
            out = np.where(region.mask[..., None], np.round(np.clip(out, 0, 255)), prev)
        latent = torch.from_numpy(np.clip(out, 0, 255).astype(np.float32)).permute(2, 0, 1)[None]
        result = type("Result", (), {})()
        result.latent, result.image, result.nfe = latent, self.decode_latent(latent), 1
        self.outputs.append(result)
        return result


@pytest.fixture(scope="module")
def sequences():
    return bench.edit_sequences(6, 6, seed=3)


def _run(sequences, mode, chain="latent", region="none", setup=None, **kw):
    editor = WorldEditor(sequences, mode, **kw)
    if setup:
        setup(editor)
    return editor, bench.run_edits(editor, sequences, "mtc", chain=chain, region=region)["turns"]


def test_every_turn_has_the_same_mix_of_edit_types():
    seqs = bench.edit_sequences(24, 10, seed=0)
    mixes = []
    for k in range(10):
        slots = sorted(bench.slot_for(i, k) for i in range(24))
        mixes.append(slots)
    assert all(m == mixes[0] for m in mixes)
    ops = {e.op for _, edits in seqs for e in edits}
    assert ops == {"recolor", "reshape", "resize", "move", "add", "remove", "background"}
    # Seeded: the same sequences every time.
    again = bench.edit_sequences(24, 10, seed=0)
    assert [[e.after for e in edits] for _, edits in seqs] == \
        [[e.after for e in edits] for _, edits in again]  # fmt: skip


def test_tuning_scenes_never_overlap_the_benchmark():
    held = {W.caption(s) for s in bench.scenes_for(bench.BENCH_GUARD, 0, "heldout")}
    tuning = [W.caption(s) for s in bench.scenes_for(64, 0, "tuning")]
    assert len(tuning) == 64 and not held & set(tuning)
    with pytest.raises(ValueError, match="split"):
        bench.scenes_for(4, 0, "train")


def test_untouched_region_is_one_mask_for_every_turn(sequences, monkeypatch):
    seen = []
    measure = bench._untouched
    monkeypatch.setattr(bench, "_untouched", lambda img, orig, mask: seen.append(mask.copy())
                        or measure(img, orig, mask))  # fmt: skip
    _, turns = _run(sequences, "oracle")
    assert len(seen) == 6 * 6
    for i, (_, edits) in enumerate(sequences):
        masks = seen[6 * i : 6 * i + 6]
        expected = bench.untouched_mask(edits)
        assert all((m == expected).all() for m in masks)
        for e in edits:  # no pixel any edit of the sequence may change
            assert not (expected & e.changed_mask()).any()
    # Object-only sequences keep plenty of pixels to measure.
    assert turns[0]["untouched_scenes"] >= 3


def test_oracle_is_perfect(sequences):
    _, turns = _run(sequences, "oracle")
    for t in turns:
        assert t["success"] == 1.0 and t["kept"] == 1.0
        assert t["untouched_psnr"] == 100.0 and t["full_psnr"] == 100.0
        assert t["full_ssim"] == pytest.approx(1.0)


def test_an_editor_that_reverts_earlier_edits_loses_kept_not_success(sequences):
    _, oracle = _run(sequences, "oracle")
    _, revert = _run(sequences, "revert")
    assert revert[0]["kept"] == 1.0  # turn 1: nothing earlier to undo
    success = [t["success"] for t in revert]
    later = [t["kept"] for t in revert[1:]]
    # Success alone hardly notices (each turn's own edit is mostly right) ...
    assert sum(success) / len(success) >= 0.75
    # ... kept does: earlier edits are gone.
    assert max(later) < 1.0 and sum(later) / len(later) < 0.5
    assert revert[-1]["full_psnr"] < oracle[-1]["full_psnr"]


def test_an_editor_that_adds_noise_each_turn_loses_untouched_psnr(sequences):
    _, oracle = _run(sequences, "oracle")
    _, noisy = _run(sequences, "noise", sigma=6.0)
    psnr = [t["untouched_psnr"] for t in noisy]
    assert all(p < 100.0 for p in psnr)
    assert psnr[-1] < psnr[0] - 3  # drift accumulates turn after turn
    assert psnr[-1] < oracle[-1]["untouched_psnr"] - 50
    assert noisy[-1]["full_psnr"] < oracle[-1]["full_psnr"]


def test_pixel_chaining_goes_through_jpeg(sequences):
    seqs = sequences[:1]
    latent, _ = _run(seqs, "noise", sigma=2.0)
    for k in range(1, 6):  # latent chain: the previous turn's latent, untouched
        assert torch.equal(latent.sources[k], latent.outputs[k - 1].latent)
    pixel, _ = _run(seqs, "noise", chain="pixel", sigma=2.0)
    for k in range(1, 6):
        prev = pixel.outputs[k - 1]
        jpeg = bench.jpeg_round_trip(prev.image)
        assert jpeg.format == "JPEG"
        expected = torch.from_numpy(np.asarray(jpeg, dtype=np.float32)).permute(2, 0, 1)[None]
        assert torch.equal(pixel.sources[k], expected)
        assert not torch.equal(pixel.sources[k], prev.latent)  # quality 75 loses something
    assert torch.equal(pixel.sources[0], latent.sources[0])


def test_steps_for_nfe_counts_each_solver():
    from editing_core.presets import steps_for_nfe

    assert steps_for_nfe("fireflow", 18) == 8  # 2 (N + 1)
    assert steps_for_nfe("mtc", 18) == 8
    assert steps_for_nfe("rf", 18) == 9  # 2 N
    assert steps_for_nfe("rf_inversion", 18) == 9
    assert steps_for_nfe("rf_solver", 18) == 4  # 4 N: 16 and 20 tie, the smaller wins
    assert steps_for_nfe("rf_solver", 19) == 5
    with pytest.raises(ValueError):
        steps_for_nfe("rf", 0)


def test_equal_nfe_runs_every_preset_at_the_budget(tiny_backend, monkeypatch):
    calls = [0]
    forward = tiny_backend.transformer.forward

    def counted(*a, **k):
        calls[0] += 1
        return forward(*a, **k)

    monkeypatch.setattr(tiny_backend.transformer, "forward", counted)
    for preset in bench.DEFAULT_PRESETS:
        calls[0] = 0
        fig = bench.run(tiny_backend, scenes=1, turns=2, presets=[preset], nfe=8, t2i=0)[0]
        data = fig["presets"][preset]
        assert calls[0] == 2 * 8, preset  # counted model calls: 8 per turn
        assert data["nfe_per_turn"] == 8 and [t["nfe"] for t in data["turns"]] == [8, 8]
        assert fig["nfe"] == 8
    with pytest.raises(ValueError, match="--nfe"):
        bench.run(tiny_backend, scenes=1, turns=1, presets=["rf"], nfe=8, t2i=0,
                  overrides={"steps": 3})  # fmt: skip


def test_cli_writes_json_per_chain_mode_and_the_plot(tiny_flux_dir, tmp_path, capsys):
    out = tmp_path / "toy.json"
    rc = main(["bench", "toy", "--model", str(tiny_flux_dir), "--scenes", "1", "--turns", "2",
               "--presets", "rf,mtc", "--steps", "1", "--t2i", "1", "--threads", "1", "-q",
               "--json", str(out)])  # fmt: skip
    assert rc == 0
    figures = json.loads(out.read_text())
    assert [f["chain"] for f in figures] == ["latent", "pixel"]
    for f in figures:
        assert f["nfe"] is None and set(f["presets"]) == {"rf", "mtc"} and f["t2i"]["samples"] == 1
        for data in f["presets"].values():
            assert [t["turn"] for t in data["turns"]] == [1, 2]
            for t in data["turns"]:
                assert set(bench.TURN_KEYS) <= set(t)
                assert 0 <= t["success"] <= 1 and 0 <= t["kept"] <= 1 and t["seconds"] > 0
                assert -1 <= t["full_ssim"] <= 1 and 0 < t["full_psnr"] <= 100
    png = out.with_suffix(".png")
    assert png.is_file() and Image.open(png).format == "PNG"
    printed = capsys.readouterr().out
    assert "chain latent" in printed and "chain pixel" in printed


def test_cli_rejects_bad_input_clearly(tiny_flux_dir, capsys):
    assert main(["bench", "toy", "--model", str(tiny_flux_dir), "--presets", "rf,nope"]) == 2
    assert "unknown presets: nope" in capsys.readouterr().err
    assert main(["bench", "toy", "--model", str(tiny_flux_dir), "--scenes", "0", "-q"]) == 1
    assert "at least 1" in capsys.readouterr().err
    assert main(["bench", "toy", "--model", str(tiny_flux_dir), "--set", "eta=7", "-q",
                 "--scenes", "1", "--turns", "1", "--t2i", "0"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "eta" in err and "Loading weights" not in err  # refused before the model loads


# -- regions ---------------------------------------------------------------------------


def test_truth_regions_on_an_oracle_score_perfect_masks(sequences):
    editor, turns = _run(sequences, "oracle", region="truth")
    assert all(r is not None and r.source == "truth" for r in editor.regions)
    for t in turns:
        assert t["mask_iou"] == 1.0 and t["mask_recall"] == 1.0 and t["masks"] == 6
        assert t["exact_fraction"] == 1.0 and t["seam_delta"] == 0.0
        assert t["success"] == 1.0 and t["kept"] == 1.0 and t["untouched_psnr"] == 100.0
        assert t["masks_empty"] == 0 and t["region_nfe"] == 0
    _, none = _run(sequences, "oracle")
    assert all(t["mask_iou"] is None and t["seam_delta"] is None for t in none)
    assert all(t["exact_fraction"] == 1.0 for t in none)  # the renderer itself is exact


def test_mask_iou_and_recall_are_measured_against_the_changed_region(sequences):
    corner = np.zeros((64, 64), bool)
    corner[:4, :4] = True  # 16 more pixels, outside most changed regions

    def setup(editor):
        editor.auto = lambda before, after: (before != after).any(-1) | corner

    _, turns = _run(sequences, "oracle", region="auto", setup=setup)
    for k, t in enumerate(turns):
        ious, recalls = [], []
        for _, edits in sequences:
            e = edits[k]
            truth = e.changed_mask()
            mask = (np.asarray(W.render(e.before)) != np.asarray(W.render(e.after))).any(-1)
            mask |= corner
            ious.append((mask & truth).sum() / (mask | truth).sum())
            recalls.append((mask & truth).sum() / truth.sum())
        assert t["mask_iou"] == pytest.approx(np.mean(ious))
        assert t["mask_recall"] == pytest.approx(np.mean(recalls)) and t["mask_recall"] < 1
        assert t["region_nfe"] == 4 and t["exact_fraction"] == 1.0


def test_exact_fraction_catches_a_core_that_changes_pixels_outside_its_region(sequences):
    _, leaky = _run(sequences, "noise", region="truth", sigma=2.0,
                    setup=lambda ed: setattr(ed, "leak", True))
    _, kept = _run(sequences, "noise", region="truth", sigma=2.0)
    assert all(t["exact_fraction"] < 0.5 for t in leaky)
    assert all(t["exact_fraction"] == 1.0 for t in kept)
    assert leaky[-1]["untouched_psnr"] < kept[-1]["untouched_psnr"]


def test_an_empty_auto_mask_is_not_run_and_is_counted(sequences):
    def setup(editor):
        editor.auto = lambda before, after: np.zeros(before.shape[:2], bool)

    editor, turns = _run(sequences, "oracle", region="auto", setup=setup)
    assert editor.sources == []  # no edit ran
    for t in turns:
        assert t["masks_empty"] == 6 and t["nfe"] == 0 and t["success"] < 1
        assert t["mask_iou"] == 0.0 and t["seam_delta"] is None
        assert t["untouched_psnr"] == 100.0


def test_a_background_change_is_scoped_as_the_background():
    from bench import toy_regions as R

    sequences = bench.edit_sequences(8, 6, seed=3)  # scenes 6-7 change their background
    edits = [e for _, seq in sequences for e in seq]
    bg = [e for e in edits if e.op == "background"]
    assert bg and all(R.scope_for(e) == "background" for e in bg)
    assert all(R.scope_for(e) == "local" for e in edits if e.op != "background")
    editor = WorldEditor(sequences)
    assert R.region_for(editor, "auto", bg[0], None, seed=0, background="whole") is None
    assert R.region_for(editor, "auto", bg[0], None, seed=0).coverage > 0.5
    # A background mask covers most of the image by nature: not counted as "most".
    _, turns = _run(sequences, "oracle", region="auto")
    assert sum(t["masks_most"] for t in turns) == 0
    with pytest.raises(ValueError, match="region must be"):
        R.region_for(editor, "box", bg[0], None, seed=0)


def test_cli_region_truth_keeps_every_pixel_outside_the_masks(tiny_flux_dir, tmp_path, capsys):
    out = tmp_path / "toy.json"
    rc = main(["bench", "toy", "--model", str(tiny_flux_dir), "--scenes", "2", "--turns", "2",
               "--presets", "rf", "--steps", "1", "--t2i", "0", "--threads", "1", "-q",
               "--chain", "pixel", "--region", "truth", "--json", str(out)])  # fmt: skip
    assert rc == 0
    fig = json.loads(out.read_text())[0]
    assert fig["region"] == "truth"
    for t in fig["presets"]["rf"]["turns"]:
        assert t["exact_fraction"] == 1.0 and t["mask_iou"] == 1.0 and t["mask_recall"] == 1.0
        assert t["seam_delta"] >= 0 and t["masks"] == 2
    assert "region truth" in capsys.readouterr().out
    rc = main(["bench", "toy", "--model", str(tiny_flux_dir), "--scenes", "1", "--turns", "2",
               "--presets", "rf", "--steps", "1", "--t2i", "0", "--threads", "1", "-q",
               "--chain", "latent", "--region", "auto", "--json", str(out)])  # fmt: skip
    assert rc == 0
    fig = json.loads(out.read_text())[0]
    for t in fig["presets"]["rf"]["turns"]:
        assert 0 <= t["mask_iou"] <= 1 and t["region_nfe"] == 16
        assert t["exact_fraction"] in (None, 1.0)
