"""FluxBackend: diffusers FLUX components and one call per editing turn.

The backend owns the transformer, VAE, CLIP + T5 encoders and their tokenizers, loaded
from a diffusers-format FLUX.1 folder (or a cached hub id) with local files only. It
does not use FluxPipeline's denoising loop: the solvers, the LQR control and the
attention hooks of METHOD.md run on the transformer directly.

Latents: a "clean latent" is the VAE's latent, normalised as FLUX does
((z - shift_factor) * scaling_factor), shaped [1, C, h, w], float32, on the CPU. Turns
chain clean latents, so an edit of an edit has no VAE round trip in between.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from editing_core import control as ctl
from editing_core.errors import DeviceOutOfMemory, EditCancelled, ImageInputError, ModelLoadError
from editing_core.images import grid_size, image_to_tensor, load_image, tensor_to_image, to_rgb
from editing_core.latents import image_ids, pack, unpack
from editing_core.presets import edit_nfe, resolve_params
from editing_core.schedule import DEV_SHIFT, sampling_timesteps
from editing_core.solvers import SOLVERS, solver_nfe

log = logging.getLogger(__name__)

PARTS = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")
MODEL_VAR = "MTEDIT_MODEL"

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]


@dataclass
class Anchors:
    """Clean latents the dual-objective control pulls toward.

    source: the lineage's root (the original upload or generation).
    previous: the node being edited; None means the edit's own input.
    """

    source: torch.Tensor
    previous: torch.Tensor | None = None


@dataclass
class EditResult:
    latent: torch.Tensor  # clean latent [1, C, h, w], float32, CPU
    image: Image.Image
    params: dict
    timings: dict = field(default_factory=dict)
    nfe: int = 0
    seed: int = 0


@dataclass
class PromptEmbeds:
    t5: torch.Tensor  # [1, T, D]
    pooled: torch.Tensor  # [1, D_clip]
    text_ids: torch.Tensor  # [T, 3]


def _resolve_device(device: str) -> torch.device:
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        return {"cuda": torch.bfloat16, "mps": torch.float16}.get(device.type, torch.float32)
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return names[dtype]


def _resolve_offload(offload) -> str:
    if offload in (None, False, "", "none", "no", "off"):
        return "none"
    if offload is True:
        return "model"
    if offload not in ("model", "sequential"):
        raise ValueError(f"unknown offload {offload!r}; use none, model or sequential")
    return offload


def resolve_model_folder(model: str | Path) -> Path:
    """A local folder for `model`: a path, a cached hub id, or 'tiny-random'."""
    if str(model) == "tiny-random":
        from editing_core.testing import tiny_random_folder

        return tiny_random_folder()
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    text = str(model)
    if path.exists():
        raise ModelLoadError(f"{text} is a file, not a diffusers model folder; set {MODEL_VAR} "
                             "to a diffusers-format FLUX.1 folder or a cached hub id")
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(text, local_files_only=True))
        except Exception as exc:
            raise ModelLoadError(
                f"{text} is not in the local Hugging Face cache ({type(exc).__name__}); "
                f"download it first (hf download {text}) or set {MODEL_VAR} "
                "to a diffusers-format FLUX.1 folder"
            ) from exc
    raise ModelLoadError(f"model folder {text} does not exist; set {MODEL_VAR} to a "
                         "diffusers-format FLUX.1 folder or a cached hub id")


def _is_oom(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


def _oom_error(exc: BaseException, what: str) -> DeviceOutOfMemory:
    return DeviceOutOfMemory(
        f"out of accelerator memory while {what}. Try MTEDIT_OFFLOAD=model (or sequential), "
        "a smaller MTEDIT_MAX_SIDE, or MTEDIT_DTYPE=bfloat16."
    )


class FluxBackend:
    """FLUX.1 components plus the multi-turn editing method."""

    def __init__(self, *, transformer, vae, text_encoder, tokenizer, text_encoder_2, tokenizer_2,
                 scheduler_config: Mapping | None, model_id: str = "", device="cpu",
                 dtype=torch.float32, offload: str = "none", max_side: int = 1024):
        self.transformer, self.vae = transformer, vae
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.text_encoder_2, self.tokenizer_2 = text_encoder_2, tokenizer_2
        self.scheduler_config = dict(scheduler_config) if scheduler_config is not None else None
        self.model_id = model_id
        self.device, self.dtype, self.offload = torch.device(device), dtype, offload
        self.max_side = int(max_side)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.grid = 2 * self.vae_scale_factor  # pixels per packed token side: 16 for FLUX
        self.latent_channels = transformer.config.in_channels // 4
        self.has_guidance = bool(transformer.config.guidance_embeds)
        self.scaling_factor = float(vae.config.scaling_factor or 1.0)
        self.shift_factor = float(getattr(vae.config, "shift_factor", None) or 0.0)
        self._prompt_cache: OrderedDict = OrderedDict()
        for m in (transformer, vae, text_encoder, text_encoder_2):
            m.eval().requires_grad_(False)
        if offload == "none":
            for m in (transformer, vae, text_encoder, text_encoder_2):
                m.to(self.device)
        elif offload == "sequential":
            from accelerate import cpu_offload

            for m in (transformer, vae, text_encoder, text_encoder_2):
                cpu_offload(m, execution_device=self.device)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, model: str | Path, device: str = "auto", dtype="auto",
                        offload="none", max_side: int = 1024) -> FluxBackend:
        """Load a diffusers-format FLUX.1 [dev] or [schnell] folder (or cached hub id), offline.

        device: auto | cpu | cuda | cuda:N | mps. dtype: auto (bf16 on CUDA, fp32 on CPU) |
        float32 | bfloat16 | float16. offload: none | model (each component moves to the
        device while it runs) | sequential (accelerate's layer-by-layer offload).
        """
        folder = resolve_model_folder(model)
        dev = _resolve_device(device)
        dt = _resolve_dtype(dtype, dev)
        off = _resolve_offload(offload)
        missing = [p for p in PARTS if not (folder / p).is_dir()]
        if missing:
            raise ModelLoadError(
                f"model folder {folder} lacks {', '.join(missing)} (a diffusers FLUX.1 folder "
                f"has {', '.join(PARTS)}); set {MODEL_VAR} to a complete diffusers-format folder"
            )
        from diffusers import AutoencoderKL, FluxTransformer2DModel
        from transformers import AutoTokenizer, CLIPTextModel, T5EncoderModel

        def load(part, fn):
            try:
                return fn()
            except Exception as exc:
                if _is_oom(exc):
                    raise _oom_error(exc, f"loading the {part}") from exc
                raise ModelLoadError(f"could not load the {part} from {folder / part}: {exc} "
                                     f"(set {MODEL_VAR} to a complete FLUX.1 folder)") from exc

        kw = {"local_files_only": True, "dtype": dt}
        parts = {
            "transformer": load("transformer", lambda: FluxTransformer2DModel.from_pretrained(
                folder, subfolder="transformer", **kw)),
            "vae": load("vae", lambda: AutoencoderKL.from_pretrained(folder, subfolder="vae", **kw)),
            "text_encoder": load("text_encoder", lambda: CLIPTextModel.from_pretrained(
                folder / "text_encoder", **kw)),
            "text_encoder_2": load("text_encoder_2", lambda: T5EncoderModel.from_pretrained(
                folder / "text_encoder_2", **kw)),
            "tokenizer": load("tokenizer", lambda: AutoTokenizer.from_pretrained(
                folder / "tokenizer", local_files_only=True)),
            "tokenizer_2": load("tokenizer_2", lambda: AutoTokenizer.from_pretrained(
                folder / "tokenizer_2", local_files_only=True)),
        }
        sched_file = folder / "scheduler" / "scheduler_config.json"
        if sched_file.is_file():
            try:
                sched = json.loads(sched_file.read_text())
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"unreadable scheduler config {sched_file}: {exc}") from exc
        else:  # no scheduler folder: dev models shift, schnell models do not
            sched = DEV_SHIFT if parts["transformer"].config.guidance_embeds else None
        try:
            return cls(**parts, scheduler_config=sched, model_id=str(model), device=dev, dtype=dt,
                       offload=off, max_side=max_side)
        except Exception as exc:
            if _is_oom(exc):
                raise _oom_error(exc, "moving the model to the device") from exc
            raise

    # ------------------------------------------------------------------ devices
    @contextlib.contextmanager
    def _on_device(self, module):
        """With offload="model", move one component to the device while it runs."""
        if self.offload != "model":
            yield module
            return
        module.to(self.device)
        try:
            yield module
        finally:
            module.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    # ------------------------------------------------------------------ text
    def text_length(self, params: Mapping | None = None) -> int:
        """T5 sequence length: the requested max_sequence_length, capped by the tokenizer."""
        want = int((params or {}).get("max_sequence_length", 512))
        limit = getattr(self.tokenizer_2, "model_max_length", None) or want
        return max(1, min(want, int(limit) if limit < 10**6 else want))

    @torch.no_grad()
    def encode_prompt(self, prompt: str, text_len: int) -> PromptEmbeds:
        """CLIP pooled + T5 sequence embeddings, cached per (prompt, length)."""
        key = (prompt, text_len)
        if key in self._prompt_cache:
            self._prompt_cache.move_to_end(key)
            return self._prompt_cache[key]
        clip_len = getattr(self.tokenizer, "model_max_length", 77)
        clip_len = 77 if not clip_len or clip_len > 10**6 else int(clip_len)
        ids = self.tokenizer([prompt], padding="max_length", max_length=clip_len, truncation=True,
                             return_tensors="pt").input_ids
        with self._on_device(self.text_encoder):
            pooled = self.text_encoder(ids.to(self.device), output_hidden_states=False).pooler_output
        ids2 = self.tokenizer_2([prompt], padding="max_length", max_length=text_len,
                                truncation=True, return_tensors="pt").input_ids
        with self._on_device(self.text_encoder_2):
            t5 = self.text_encoder_2(ids2.to(self.device), output_hidden_states=False)[0]
        emb = PromptEmbeds(
            t5=t5.to(self.device, self.dtype),
            pooled=pooled.to(self.device, self.dtype),
            text_ids=torch.zeros(t5.shape[1], 3, device=self.device, dtype=self.dtype),
        )
        self._prompt_cache[key] = emb
        while len(self._prompt_cache) > 16:
            self._prompt_cache.popitem(last=False)
        return emb

    # ------------------------------------------------------------------ VAE
    def prepare_image(self, image, max_side: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
        """RGB image resized to the model grid, and the original (W, H)."""
        img = load_image(image)
        try:
            img = to_rgb(img)
        except (OSError, ValueError, SyntaxError) as exc:  # a lazily opened, truncated file
            raise ImageInputError(f"not a readable image: {exc}") from exc
        size = img.size
        w, h = grid_size(*size, max_side or self.max_side, self.grid)
        if (w, h) != size:
            img = img.resize((w, h), Image.Resampling.LANCZOS)
        return img, size

    @torch.no_grad()
    def encode_image(self, img, max_side: int | None = None) -> torch.Tensor:
        """Any image -> clean latent [1, C, h, w] float32 on the CPU (deterministic: the mode)."""
        img, _ = self.prepare_image(img, max_side)
        x = image_to_tensor(img).to(self.device, self.vae.dtype)
        try:
            with self._on_device(self.vae):
                z = self.vae.encode(x).latent_dist.mode()
        except Exception as exc:
            if _is_oom(exc):
                raise _oom_error(exc, f"encoding a {img.width}x{img.height} image") from exc
            raise
        return ((z.float() - self.shift_factor) * self.scaling_factor).cpu()

    @torch.no_grad()
    def decode_latent(self, latent: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
        """Clean latent -> RGB image; `size` (W, H) resizes to that size."""
        z = latent.float() / self.scaling_factor + self.shift_factor
        try:
            with self._on_device(self.vae):
                x = self.vae.decode(z.to(self.device, self.vae.dtype)).sample
        except Exception as exc:
            if _is_oom(exc):
                raise _oom_error(exc, "decoding a latent") from exc
            raise
        img = tensor_to_image(x)
        if size is not None and tuple(size) != img.size:
            img = img.resize(tuple(int(s) for s in size), Image.Resampling.LANCZOS)
        return img

    # ------------------------------------------------------------------ model calls
    def timesteps(self, steps: int, latent_hw: tuple[int, int]) -> torch.Tensor:
        """Descending sampling grid for a latent of (h, w)."""
        h, w = latent_hw
        return sampling_timesteps(steps, (h // 2) * (w // 2), self.scheduler_config)

    def _forward(self, x: torch.Tensor, t: float, emb: PromptEmbeds, guidance: float,
                 img_ids: torch.Tensor) -> torch.Tensor:
        g = torch.full((x.shape[0],), float(guidance), device=self.device, dtype=torch.float32)
        out = self.transformer(
            hidden_states=x.to(self.dtype),
            timestep=torch.full((x.shape[0],), float(t), device=self.device, dtype=self.dtype),
            guidance=g if self.has_guidance else None,
            pooled_projections=emb.pooled,
            encoder_hidden_states=emb.t5,
            txt_ids=emb.text_ids,
            img_ids=img_ids,
            return_dict=False,
        )[0]
        return out.float()

    @torch.no_grad()
    def time_forward(self, latent_hw: tuple[int, int], repeats: int = 3, text_len: int | None = None) -> float:
        """Seconds of one bare transformer forward at this latent size (best of `repeats`)."""
        h, w = latent_hw
        emb = self.encode_prompt("", text_len or self.text_length())
        x = torch.zeros(1, (h // 2) * (w // 2), 4 * self.latent_channels, device=self.device)
        ids = image_ids(h, w).to(self.device, self.dtype)
        times = []
        with self._on_device(self.transformer):
            self._forward(x, 0.5, emb, 1.0, ids)  # warm-up
            for _ in range(max(1, repeats)):
                self._sync()
                start = time.perf_counter()
                self._forward(x, 0.5, emb, 1.0, ids)
                self._sync()
                times.append(time.perf_counter() - start)
        return min(times)  # the least disturbed run: other processes only add time

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # ------------------------------------------------------------------ the turn
    def edit(self, source, source_prompt: str, target_prompt: str, *, anchors: Anchors | None = None,
             focus_words=(), preset: str = "mtc", overrides: Mapping | None = None, seed: int = 0,
             output_size: tuple[int, int] | None = None, progress: Progress | None = None,
             cancel: Cancel | None = None) -> EditResult:
        """One editing turn: invert `source` with the source prompt, sample with the target.

        source: a PIL image (or path / bytes; encoded once) or a clean latent (chained, no
        VAE round trip). anchors: the lineage's root latent and the edited node's latent
        (defaults: the source itself). Returns the new clean latent and its image, at
        `output_size` or, for an image source, at the source's original size.
        """
        params = resolve_params(preset, overrides)
        if not isinstance(target_prompt, str) or not target_prompt.strip():
            raise ValueError("the target prompt is empty: describe the edited image")
        if isinstance(focus_words, str):
            focus_words = [focus_words]
        source_prompt = source_prompt or ""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        if isinstance(source, torch.Tensor):
            x0 = self._check_latent(source, "source latent")
        else:
            img, size = self.prepare_image(source)
            output_size = output_size or size
            t0 = time.perf_counter()
            x0 = self.encode_image(img)
            timings["encode_image"] = time.perf_counter() - t0
        anchors = anchors or Anchors(source=x0)
        src_anchor = self._check_latent(anchors.source, "anchor source", like=x0)
        prev_anchor = x0 if anchors.previous is None else self._check_latent(
            anchors.previous, "anchor previous", like=x0)
        try:
            latent, nfe = self._edit_latent(x0, source_prompt, target_prompt, src_anchor,
                                            prev_anchor, tuple(focus_words or ()), params, int(seed),
                                            progress, cancel, timings)
            t0 = time.perf_counter()
            image = self.decode_latent(latent, output_size)
            timings["decode"] = time.perf_counter() - t0
        except Exception as exc:
            if _is_oom(exc) and not isinstance(exc, DeviceOutOfMemory):
                raise _oom_error(exc, f"editing a {x0.shape[-1] * self.vae_scale_factor}x"
                                      f"{x0.shape[-2] * self.vae_scale_factor} image") from exc
            raise
        timings["total"] = time.perf_counter() - t_start
        params = {**params, "focus_words": list(focus_words or ())}
        return EditResult(latent=latent, image=image, params=params, timings=timings, nfe=nfe,
                          seed=int(seed))

    def _check_latent(self, latent, what: str, like: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(latent, torch.Tensor) or latent.ndim != 4 or latent.shape[0] != 1:
            raise ImageInputError(f"{what} must be a clean latent tensor [1, C, h, w]")
        if latent.shape[1] != self.latent_channels or latent.shape[2] % 2 or latent.shape[3] % 2:
            raise ImageInputError(f"{what} has shape {list(latent.shape)}; this model needs "
                                  f"[1, {self.latent_channels}, even h, even w]")
        if like is not None and latent.shape != like.shape:
            raise ImageInputError(f"{what} has shape {list(latent.shape)} but the edited latent "
                                  f"is {list(like.shape)}: anchors must come from the same lineage")
        return latent.detach().to("cpu", torch.float32)

    def _velocity(self, phase, emb, guidance, ids, counter, progress, cancel, hooks, neg=None,
                  true_cfg: float = 1.0):
        """velocity_fn for the solvers: progress, cancel and hook bookkeeping per model call."""

        def call(x, t, *, step, substep):
            if cancel is not None and cancel():
                raise EditCancelled("the edit was cancelled")
            if hooks is not None:
                hooks.set_call(phase=phase, step=step, t=float(t), substep=substep)
            v_neg = None
            if neg is not None:  # negative first: highlighting keeps the last call's maps
                v_neg = self._forward(x, t, neg, guidance, ids)
                counter["nfe"] += 1
            v = self._forward(x, t, emb, guidance, ids)
            counter["nfe"] += 1
            if v_neg is not None:
                v = v_neg + true_cfg * (v - v_neg)
            if progress is not None:
                progress(counter["nfe"], counter["total"], phase)
            return v

        return call

    @torch.no_grad()
    def _edit_latent(self, x0, source_prompt, target_prompt, src_anchor, prev_anchor, focus_words,
                     params, seed, progress, cancel, timings):
        _, _, h, w = x0.shape
        text_len = self.text_length(params)
        t0 = time.perf_counter()
        emb_src = self.encode_prompt(source_prompt, text_len)
        emb_tgt = self.encode_prompt(target_prompt, text_len)
        neg = None
        if params["true_cfg"] > 1.0 and params["negative_prompt"]:
            neg = self.encode_prompt(params["negative_prompt"], text_len)
        timings["encode_prompt"] = time.perf_counter() - t0

        grid = self.timesteps(params["steps"], (h, w))
        inv_grid = grid.flip(0)
        solver = SOLVERS[params["solver"]]
        ids = image_ids(h, w).to(self.device, self.dtype)
        x = pack(x0).to(self.device)
        counter = {"nfe": 0, "total": edit_nfe(params)}
        if neg is None:
            counter["total"] = edit_nfe({**params, "true_cfg": 1.0})

        inv_control = None
        if params["gamma"] > 0:
            inv_control = ctl.inversion_control(x.shape, seed=seed, gamma=params["gamma"],
                                                device=self.device)
        sample_control = None
        if params["control"] == "dual":
            sample_control = ctl.DualControl(
                pack(src_anchor).to(self.device), pack(prev_anchor).to(self.device),
                lam=params["lam"], eta=params["eta"], stop=params["stop"], clock=params["clock"])

        hooks = self._make_hooks(grid, params, target_prompt, focus_words, text_len)
        with self._on_device(self.transformer), hooks or contextlib.nullcontext():
            t0 = time.perf_counter()
            inv_fn = self._velocity("invert", emb_src, params["inversion_guidance"], ids, counter,
                                    progress, cancel, hooks)
            noise = solver(inv_fn, x, inv_grid, control=inv_control)
            self._sync()
            timings["invert"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            smp_fn = self._velocity("sample", emb_tgt, params["guidance"], ids, counter, progress,
                                    cancel, hooks, neg=neg, true_cfg=params["true_cfg"])
            out = solver(smp_fn, noise, grid, control=sample_control)
            self._sync()
            timings["sample"] = time.perf_counter() - t0
        return unpack(out, h, w).float().cpu(), counter["nfe"]

    def _make_hooks(self, grid, params, target_prompt, focus_words, text_len):
        """Attention hooks for V injection / highlighting, or None when neither is on."""
        highlight = bool(params["highlight"]) and bool(focus_words)
        if params["inject"] <= 0 and not highlight:
            return None
        from editing_core.attention import AttentionHooks

        positions: list[int] = []
        if highlight:
            from editing_core.focus import focus_token_positions

            positions = list(focus_token_positions(self.tokenizer_2, target_prompt,
                                                   list(focus_words), text_len))
        return AttentionHooks(self.transformer, timesteps=[float(t) for t in grid],
                              inject_steps=int(params["inject"]), highlight=highlight and bool(positions),
                              focus_positions=positions, text_len=text_len, params=dict(params))

    # ------------------------------------------------------------------ text to image
    @property
    def native_side(self) -> int:
        """The image side the model was trained at (its VAE's sample_size: 1024 for
        FLUX.1, 64 for the bundled model), capped by max_side; the default size of
        generated images."""
        side = getattr(self.vae.config, "sample_size", None)
        if isinstance(side, (list, tuple)):
            side = side[0] if side else None
        if not isinstance(side, int) or side <= 0:
            side = 1024
        return min(side, self.max_side)

    @torch.no_grad()
    def generate(self, prompt: str, *, width: int | None = None, height: int | None = None,
                 preset: str = "mtc", overrides: Mapping | None = None, seed: int = 0,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> EditResult:
        """Text to image with the preset's solver and step count (no inversion, no control)."""
        params = resolve_params(preset, overrides)
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty: describe the image to generate")
        side = self.native_side
        w, h = grid_size(width or side, height or side, self.max_side, self.grid)
        lh, lw = h // self.vae_scale_factor, w // self.vae_scale_factor
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        text_len = self.text_length(params)
        emb = self.encode_prompt(prompt, text_len)
        neg = None
        if params["true_cfg"] > 1.0 and params["negative_prompt"]:
            neg = self.encode_prompt(params["negative_prompt"], text_len)
        timings["encode_prompt"] = time.perf_counter() - t_start
        g = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn(1, self.latent_channels, lh, lw, generator=g)
        grid = self.timesteps(params["steps"], (lh, lw))
        per_pass = solver_nfe(params["solver"], params["steps"])
        counter = {"nfe": 0, "total": per_pass * (2 if neg is not None else 1)}
        ids = image_ids(lh, lw).to(self.device, self.dtype)
        try:
            with self._on_device(self.transformer):
                t0 = time.perf_counter()
                fn = self._velocity("sample", emb, params["guidance"], ids, counter, progress,
                                    cancel, None, neg=neg, true_cfg=params["true_cfg"])
                out = SOLVERS[params["solver"]](fn, pack(noise).to(self.device), grid)
                self._sync()
                timings["sample"] = time.perf_counter() - t0
            latent = unpack(out, lh, lw).float().cpu()
            t0 = time.perf_counter()
            image = self.decode_latent(latent, (width, height) if width and height else None)
            timings["decode"] = time.perf_counter() - t0
        except Exception as exc:
            if _is_oom(exc) and not isinstance(exc, DeviceOutOfMemory):
                raise _oom_error(exc, f"generating a {w}x{h} image") from exc
            raise
        timings["total"] = time.perf_counter() - t_start
        return EditResult(latent=latent, image=image, params={**params, "prompt": prompt},
                          timings=timings, nfe=counter["nfe"], seed=int(seed))
