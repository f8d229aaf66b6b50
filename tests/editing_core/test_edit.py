"""One editing turn end to end on a tiny random FLUX, through the public API."""

import pytest
import torch
from PIL import Image

from bench.reconstruct import calibration_card
from editing_core import Anchors, EditCancelled, ImageInputError, resolve_params

FAST = {"steps": 3}


@pytest.fixture(scope="module")
def card():
    return calibration_card(40).resize((37, 29))


def test_edit_returns_an_image_of_the_input_size_and_records_params(tiny_backend, card):
    r = tiny_backend.edit(card, "a picture", "a red picture", focus_words=["red"],
                          overrides={"steps": 4, "eta": 0.8, "highlight": True})
    assert r.image.size == (37, 29) and r.image.mode == "RGB"
    assert r.latent.shape == (1, 4, 8, 10)  # 40x32 model grid, 4x VAE
    assert r.params["eta"] == 0.8 and r.params["steps"] == 4 and r.params["preset"] == "mtc"
    assert r.params["focus_words"] == ["red"] and r.params["highlight"] is True
    assert {"encode_image", "encode_prompt", "invert", "sample", "decode", "total"} <= set(r.timings)


def test_same_seed_same_output_other_seed_differs(tiny_backend, card):
    a = tiny_backend.edit(card, "a picture", "a blue picture", overrides=FAST, seed=7)
    b = tiny_backend.edit(card, "a picture", "a blue picture", overrides=FAST, seed=7)
    c = tiny_backend.edit(card, "a picture", "a blue picture", overrides=FAST, seed=8)
    assert torch.equal(a.latent, b.latent) and a.image.tobytes() == b.image.tobytes()
    assert not torch.equal(a.latent, c.latent)  # mtc inverts toward a seeded Gaussian


@pytest.mark.parametrize("preset,steps,nfe", [
    ("mtc", 8, 18),  # FireFlow: 2 (N + 1)
    ("fireflow", 8, 18),
    ("rf_solver", 3, 12),  # midpoint: 2 x 2N
    ("rf_inversion", 3, 6),  # Euler: 2N
    ("rf", 3, 6),
])
def test_nfe_counts_match_the_formulas(tiny_backend, preset, steps, nfe):
    calls = []
    latent = torch.zeros(1, 4, 4, 4)
    r = tiny_backend.edit(latent, "a cat", "a dog", preset=preset, overrides={"steps": steps},
                          progress=lambda done, total, stage: calls.append((done, total, stage)))
    assert r.nfe == nfe == len(calls)
    assert [c[0] for c in calls] == list(range(1, nfe + 1)) and {c[1] for c in calls} == {nfe}
    assert [c[2] for c in calls] == ["invert"] * (nfe // 2) + ["sample"] * (nfe // 2)


def test_a_latent_source_is_chained_without_the_vae_encoder(tiny_backend, card, monkeypatch):
    first = tiny_backend.edit(card, "a picture", "a green picture", overrides=FAST)
    calls = []
    original = tiny_backend.vae.encode
    monkeypatch.setattr(tiny_backend.vae, "encode", lambda *a, **k: calls.append(1) or original(*a, **k))
    second = tiny_backend.edit(first.latent, "a green picture", "a green cat",
                               anchors=Anchors(source=first.latent * 0.5, previous=first.latent),
                               overrides={"steps": 4, "stop": 0.25}, output_size=(37, 29))
    assert calls == [] and second.image.size == (37, 29)
    # The anchors matter (4 steps: stop 0.25 controls step 0): another root, another result.
    third = tiny_backend.edit(first.latent, "a green picture", "a green cat",
                              anchors=Anchors(source=first.latent, previous=first.latent),
                              overrides={"steps": 4, "stop": 0.25})
    assert not torch.equal(second.latent, third.latent)


def test_cancel_stops_between_model_calls(tiny_backend):
    calls = []

    def cancel():
        return len(calls) >= 3

    with pytest.raises(EditCancelled):
        tiny_backend.edit(torch.zeros(1, 4, 4, 4), "a", "b", overrides=FAST,
                          progress=lambda *a: calls.append(a), cancel=cancel)
    assert len(calls) == 3


def test_bad_inputs_are_clear_errors(tiny_backend):
    z = torch.zeros(1, 4, 4, 4)
    with pytest.raises(ValueError, match="target prompt is empty"):
        tiny_backend.edit(z, "a", "  ")
    with pytest.raises(ImageInputError, match="anchors must come from the same lineage"):
        tiny_backend.edit(z, "a", "b", anchors=Anchors(source=torch.zeros(1, 4, 6, 6)))
    with pytest.raises(ImageInputError, match="needs"):
        tiny_backend.edit(torch.zeros(1, 3, 4, 4), "a", "b")
    with pytest.raises(ValueError, match="unknown edit parameter 'etta'"):
        tiny_backend.edit(z, "a", "b", overrides={"etta": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        resolve_params("nope")


def test_generate_text_to_image(tiny_backend):
    r = tiny_backend.generate("a red circle on a blue square", width=30, height=20, seed=1,
                              overrides={"steps": 2})
    assert r.image.size == (30, 20) and r.nfe == 3 and r.latent.shape == (1, 4, 4, 8)
    again = tiny_backend.generate("a red circle on a blue square", width=30, height=20, seed=1,
                                  overrides={"steps": 2})
    assert torch.equal(r.latent, again.latent)
    with pytest.raises(ValueError, match="prompt is empty"):
        tiny_backend.generate("")


def test_every_preset_parameter_is_overridable_and_typed():
    p = resolve_params("rf", {"steps": "12", "highlight": "true", "guidance": 2})
    assert p["steps"] == 12 and p["highlight"] is True and p["guidance"] == 2.0
    assert p["solver"] == "euler" and p["preset"] == "rf"
    with pytest.raises(ValueError, match="steps"):
        resolve_params("mtc", {"steps": 2.5})
    with pytest.raises(ValueError, match="solver must be one of"):
        resolve_params("mtc", {"solver": "heun"})


def test_out_of_memory_is_a_clear_error(tiny_backend, monkeypatch):
    from editing_core import DeviceOutOfMemory

    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(tiny_backend, "_forward", oom)
    with pytest.raises(DeviceOutOfMemory, match="MTEDIT_OFFLOAD=model.*MTEDIT_MAX_SIDE"):
        tiny_backend.edit(torch.zeros(1, 4, 4, 4), "a", "b", overrides=FAST)


def test_large_uploads_are_scaled_to_the_grid_and_back(tiny_backend):
    big = Image.new("RGB", (3000, 2000), (40, 90, 200))
    img, size = tiny_backend.prepare_image(big, max_side=64)
    assert size == (3000, 2000) and img.size == (64, 40)
    r = tiny_backend.edit(img, "a", "b", overrides=FAST, output_size=size)
    assert r.image.size == (3000, 2000)


def test_highlighting_and_injection_take_part_and_processors_are_restored(tiny_backend):
    from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

    z = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    run = lambda **o: tiny_backend.edit(z, "a cat", "a red cat", focus_words="red",
                                        overrides={"steps": 5, "highlight": True, **o}).latent
    base = run()
    assert not torch.equal(base, run(highlight=False))  # the mask acts at step 4
    assert not torch.equal(base, run(inject=0))
    assert all(type(p) is FluxAttnProcessor for p in tiny_backend.transformer.attn_processors.values())


def test_cli_edit_and_generate(tiny_flux_dir, tmp_path, capsys):
    from editing_core import latent_from_bytes
    from mtedit.cli import main

    calibration_card(40).resize((30, 22)).save(tmp_path / "in.png")
    rc = main(["edit", str(tmp_path / "in.png"), "--source", "a picture", "--target",
               "a red picture", "--focus", "red", "--steps", "2", "--set", "eta=0.5",
               "--model", str(tiny_flux_dir), "-o", str(tmp_path / "out.png"),
               "--latent", str(tmp_path / "out.safetensors")])
    assert rc == 0 and Image.open(tmp_path / "out.png").size == (30, 22)
    assert latent_from_bytes((tmp_path / "out.safetensors").read_bytes()).shape == (1, 4, 6, 8)
    assert "NFE 6" in capsys.readouterr().out
    rc = main(["generate", "--prompt", "a cat", "--width", "24", "--height", "16", "--steps", "1",
               "--model", str(tiny_flux_dir), "-o", str(tmp_path / "gen.png")])
    assert rc == 0 and Image.open(tmp_path / "gen.png").size == (24, 16)
    assert main(["edit", str(tmp_path / "in.png"), "--target", "x", "--set", "etta=1",
                 "--model", str(tiny_flux_dir), "-o", str(tmp_path / "x.png")]) == 1
    assert "unknown edit parameter 'etta'" in capsys.readouterr().err


def test_generate_defaults_to_the_models_own_size(tiny_backend):
    """Without a size, text to image uses the size the model was trained at (the VAE's
    sample_size), not 1024 px, which would be slow and meaningless on a small model."""
    side = tiny_backend.vae.config.sample_size
    result = tiny_backend.generate("a cat", overrides={"steps": 1}, seed=0)
    assert result.image.size == (side, side)
