"""Loading FLUX folders offline, clear errors, images of any mode, latents as bytes."""

import io
import shutil

import pytest
import torch
from PIL import Image

from editing_core import (
    FluxBackend,
    ImageInputError,
    ModelLoadError,
    latent_from_bytes,
    latent_to_bytes,
)
from editing_core.images import grid_size
from editing_core.testing import build_tiny_flux


def test_loads_a_dev_folder_on_cpu_in_float32(tiny_backend, tiny_flux_dir):
    b = tiny_backend
    assert b.device.type == "cpu" and b.dtype == torch.float32
    assert b.has_guidance and b.latent_channels == 4 and b.grid == 8
    assert b.model_id == str(tiny_flux_dir)
    # FLUX.1-dev schedule: shifted (mid-grid time above 0.5).
    assert float(b.timesteps(4, (16, 16))[2]) > 0.5


def test_auto_dtype_is_float32_on_cpu(tiny_flux_dir):
    b = FluxBackend.from_pretrained(tiny_flux_dir, device="auto", dtype="auto", offload="model")
    assert b.dtype == torch.float32 and b.device.type == "cpu" and b.offload == "model"
    assert b.generate("a red circle", width=16, height=16, overrides={"steps": 1}).image.size == (16, 16)


def test_schnell_style_folder_has_no_guidance_and_no_shift(tmp_path):
    folder = build_tiny_flux(tmp_path / "schnell", guidance_embeds=False)
    b = FluxBackend.from_pretrained(folder, device="cpu")
    assert not b.has_guidance
    torch.testing.assert_close(b.timesteps(4, (16, 16)), torch.linspace(1, 0, 5, dtype=torch.float64))
    plain = b.generate("a cat", width=16, height=16, overrides={"steps": 2})
    cfg = b.generate("a cat", width=16, height=16,
                     overrides={"steps": 2, "true_cfg": 3.0, "negative_prompt": "a dog"})
    assert (plain.nfe, cfg.nfe) == (3, 6)  # FireFlow 2 steps = 3 calls; true CFG doubles them
    assert not torch.equal(plain.latent, cfg.latent)


@pytest.mark.parametrize("part", ["vae", "text_encoder_2", "tokenizer"])
def test_a_missing_part_is_named(tiny_flux_dir, tmp_path, part):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_flux_dir, folder)
    shutil.rmtree(folder / part)
    with pytest.raises(ModelLoadError, match=rf"lacks {part}\b.*MTEDIT_MODEL"):
        FluxBackend.from_pretrained(folder, device="cpu")


def test_corrupt_weights_name_the_part(tiny_flux_dir, tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_flux_dir, folder)
    for f in (folder / "transformer").glob("*.safetensors"):
        f.write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="transformer"):
        FluxBackend.from_pretrained(folder, device="cpu")


def test_missing_folder_and_uncached_hub_id(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist.*MTEDIT_MODEL"):
        FluxBackend.from_pretrained(tmp_path / "nowhere", device="cpu")
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache"):
        FluxBackend.from_pretrained("nobody-here/no-such-flux", device="cpu")


def test_grid_size_snaps_and_caps():
    assert grid_size(1000, 750, 512, 16) == (512, 384)
    assert grid_size(33, 17, 1024, 16) == (32, 16)
    assert grid_size(3, 5000, 1024, 16) == (16, 1024)
    w, h = grid_size(4000, 3000, 1000, 16)
    assert w <= 1000 and w % 16 == 0 and h % 16 == 0


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "I;16", "CMYK", "1"])
def test_images_of_any_mode_encode(tiny_backend, mode):
    img = Image.new("RGB", (21, 13), (10, 200, 30)).convert(mode)
    latent = tiny_backend.encode_image(img)
    assert latent.shape == (1, 4, 4, 6) and latent.dtype == torch.float32  # 24x16 px / 4
    assert tiny_backend.decode_latent(latent, size=(21, 13)).size == (21, 13)


def test_transparent_pixels_become_white(tiny_backend):
    img, _ = tiny_backend.prepare_image(Image.new("RGBA", (16, 16), (255, 0, 0, 0)))
    assert img.getpixel((3, 3)) == (255, 255, 255)


def test_bad_image_input_is_a_clear_error(tiny_backend, tmp_path):
    with pytest.raises(ImageInputError, match="not a readable image"):
        tiny_backend.encode_image(b"\x89PNG but not really")
    with pytest.raises(ImageInputError, match="not found"):
        tiny_backend.encode_image(tmp_path / "missing.png")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    assert tiny_backend.encode_image(buf.getvalue()).shape == (1, 4, 2, 2)


def test_latent_bytes_round_trip():
    t = torch.randn(1, 16, 8, 6)
    data = latent_to_bytes(t)
    assert torch.equal(latent_from_bytes(data), t)
    with pytest.raises(ValueError):
        latent_from_bytes(b"garbage")


def test_a_cached_hub_id_resolves_to_its_snapshot(tiny_flux_dir, tmp_path, monkeypatch):
    # The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/}.
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-flux"
    shutil.copytree(tiny_flux_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    from editing_core.loading import resolve_model_folder

    assert resolve_model_folder("someone/tiny-flux") == repo / "snapshots" / commit


def test_bfloat16_weights_keep_float32_latents(tiny_flux_dir):
    b = FluxBackend.from_pretrained(tiny_flux_dir, device="cpu", dtype="bfloat16")
    assert b.transformer.dtype == torch.bfloat16 and b.vae.dtype == torch.bfloat16
    r = b.edit(Image.new("RGB", (16, 16), "red"), "a red square", "a blue square",
               focus_words=["blue"], overrides={"steps": 2})
    assert r.latent.dtype == torch.float32 and torch.isfinite(r.latent).all()


def test_a_truncated_lazily_opened_image_is_a_clear_error(tiny_backend):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(buf, "PNG")
    lazy = Image.open(io.BytesIO(buf.getvalue()[:80]))  # header only: pixels fail on load
    with pytest.raises(ImageInputError, match="not a readable image"):
        tiny_backend.encode_image(lazy)
