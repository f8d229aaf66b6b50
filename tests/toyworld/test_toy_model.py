"""The bundled toy model: loads offline through FluxBackend, edits, benches; training resumes."""

import json
import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import toy as bench
from editing_core import Anchors, FluxBackend
from mtedit.settings import BUNDLED_MODEL
from toyworld import train
from toyworld import world as W

shipped = pytest.mark.skipif(
    not (BUNDLED_MODEL / "model_index.json").is_file(),
    reason=f"no bundled model at {BUNDLED_MODEL} (train it with `mtedit train-toy --out ...`)",
)


@pytest.fixture(scope="module")
def backend():
    if not (BUNDLED_MODEL / "model_index.json").is_file():
        pytest.skip(f"no bundled model at {BUNDLED_MODEL}")
    return FluxBackend.from_pretrained(BUNDLED_MODEL, device="cpu", dtype="float32")


@shipped
def test_bundled_folder_is_small_and_complete():
    size = sum(f.stat().st_size for f in BUNDLED_MODEL.rglob("*") if f.is_file())
    assert size < 50e6
    index = json.loads((BUNDLED_MODEL / "model_index.json").read_text())
    for part in ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer",
                 "tokenizer_2", "scheduler"):  # fmt: skip
        assert part in index and (BUNDLED_MODEL / part).is_dir()
    assert (BUNDLED_MODEL / "README.md").is_file()


@shipped
def test_bundled_model_edits_offline_in_one_step(backend):
    scene = W.Scene("white", (W.Obj("square", "red", "large", 4),))
    root = backend.encode_image(W.render(scene))
    assert root.shape == (1, 8, 16, 16)
    target = W.recolor(scene, 4, "blue")
    out = backend.edit(root, W.caption(scene), W.caption(target.after),
                       anchors=Anchors(source=root, previous=root), focus_words=target.focus,
                       overrides={"steps": 1})  # fmt: skip
    assert out.image.size == (64, 64) and out.latent.shape == root.shape
    assert torch.isfinite(out.latent).all()
    # The VAE alone brings the render back closely (the bench's preservation ceiling).
    rec = backend.decode_latent(root)
    assert bench.masked_psnr(rec, W.render(scene), np.ones((64, 64), bool)) > 25


@shipped
def test_bundled_model_draws_and_edits_what_it_is_told(backend):
    """A working editor, not only a loadable folder: held-out captions come out right
    and single edits succeed most of the time (the card has the full benchmark)."""
    t2i = bench.run_t2i(backend, 8, seed=3)
    assert t2i["background"] >= 0.75 and t2i["colour"] >= 0.5 and t2i["count"] >= 0.5
    first_turns = bench.run_edits(backend, bench.edit_sequences(8, 1, seed=5), "mtc")
    assert first_turns["turns"][0]["success"] >= 0.5


@pytest.fixture(scope="module")
def any_backend():
    """The bundled model, or a tiny random FLUX when it is absent (figures still in range)."""
    model = BUNDLED_MODEL if (BUNDLED_MODEL / "model_index.json").is_file() else "tiny-random"
    return FluxBackend.from_pretrained(model, device="cpu", dtype="float32")


def test_short_bench_gives_sane_figures(any_backend):
    backend = any_backend
    figures = bench.run(backend, scenes=2, turns=2, presets=("mtc", "rf"), t2i=2,
                        chains=("latent", "pixel"), overrides={"steps": 2})  # fmt: skip
    assert [f["chain"] for f in figures] == ["latent", "pixel"]
    for fig in figures:
        assert set(fig["presets"]) == {"mtc", "rf"}
        for data in fig["presets"].values():
            assert [t["turn"] for t in data["turns"]] == [1, 2]
            for t in data["turns"]:
                assert 0.0 <= t["success"] <= 1.0 and 0.0 <= t["kept"] <= 1.0
                assert t["untouched_psnr"] is None or 5.0 < t["untouched_psnr"] <= 100.0
                assert 5.0 < t["full_psnr"] <= 100.0 and t["nfe"] == data["nfe_per_turn"] > 0
        t2i = fig["t2i"]
        for key in ("background", "colour", "shape", "size", "all", "attributes"):
            assert 0.0 <= t2i[key] <= 1.0
        assert t2i["samples"] == 2
        assert 0 < fig["vae_psnr"] <= 100
        json.dumps(fig)  # JSON-ready
        assert "mtc" in bench.format_table(fig)


def test_heldout_split_is_disjoint_from_training():
    tr = {W.caption(s) for s in W.training_scenes(200, seed=0)}
    ho = {W.caption(s) for s in W.heldout_scenes(50, seed=0)}
    assert not tr & ho
    assert all(W.is_heldout(c) for c in ho)


def test_masked_psnr():
    img = W.render(W.Scene("green", (W.Obj("circle", "red", "small", 0),)))
    other = W.render(W.Scene("green", (W.Obj("circle", "blue", "small", 0),)))
    everywhere = np.ones((64, 64), bool)
    assert bench.masked_psnr(img, img, everywhere) == 100.0
    assert bench.masked_psnr(other, img, everywhere) < 30
    assert bench.masked_psnr(other, img, ~W.region_mask([W.Obj("circle", "red", "small", 0)])) == 100.0
    assert bench.masked_psnr(img, img, ~everywhere) is None
    assert math.isfinite(bench.masked_psnr(other, img, everywhere))


def test_training_resumes_and_exports_a_loadable_folder(tmp_path):
    cfg = train.Config(tmp_path / "work", vae_steps=2, vae_pool=8, n_latents=8, steps=2, batch=4,
                       decoder_steps=1, text_steps=2, threads=1,
                       ckpt_every=1, distill_frac=0.5, progress=False)  # fmt: skip
    folder = train.run(cfg, tmp_path / "model")
    cfg.steps = 3
    train.run(cfg, tmp_path / "model")
    log = (tmp_path / "work" / "train.log").read_text()
    assert "transformer: resumed at step 2" in log and "transformer step 3" in log
    b = FluxBackend.from_pretrained(folder, device="cpu", dtype="float32")
    assert b.text_length() <= 28 and b.latent_channels == 8
    out = b.generate(W.caption(W.Scene("white", (W.Obj("square", "red", "large", 4),))),
                     width=64, height=64, overrides={"steps": 1})  # fmt: skip
    assert out.image.size == (64, 64)


def test_caption_labels_bind_each_word_to_its_object():
    from toyworld import components as C

    _, tok2 = C.build_tokenizers()
    scene = W.Scene("green", (W.Obj("circle", "red", "small", 3), W.Obj("square", "blue", "large", 5)),
                    "striped")  # fmt: skip
    ids, labels = train.caption_labels(scene, tok2)
    words = tok2.convert_ids_to_tokens(ids)
    colour = dict(zip(words, labels["colour"]))
    assert colour["red"] == list(W.COLOURS).index("red")
    assert colour["blue"] == list(W.COLOURS).index("blue")
    assert colour["and"] == train.NO_LABEL and colour["background"] == train.NO_LABEL
    cells = [c for w, c in zip(words, labels["cell"]) if w == "the"]
    assert cells == [3, 5]  # "on the left", "on the right"
    assert set(labels["background"]) == {list(W.COLOURS).index("green")}
    assert len(ids) == C.MAX_TOKENS and words[-1] == "<pad>"


def test_the_core_builder_builds_the_shipped_models_shape(backend):
    from toyworld import components as C

    tok, tok2 = C.build_tokenizers()
    clip, t5 = C.SPEC.text_encoders(tok, tok2)
    built = {"transformer": C.SPEC.transformer(), "vae": C.SPEC.vae(), "text_encoder": clip,
             "text_encoder_2": t5}
    for name, module in built.items():
        shipped_state = getattr(backend, name).state_dict()
        shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        assert shapes == {k: tuple(v.shape) for k, v in shipped_state.items()}, name
        module.load_state_dict(shipped_state, strict=True)
    assert tok2("a red circle on the left").input_ids == \
        backend.tokenizer_2("a red circle on the left").input_ids
