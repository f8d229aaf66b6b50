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
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from PIL import Image

from editing_core import control as ctl
from editing_core import loading
from editing_core.errors import ImageInputError, out_of_memory_as_error
from editing_core.grid import model_side, working_side
from editing_core.images import grid_size, image_to_tensor, load_image, tensor_to_image, to_rgb
from editing_core.latents import flux_velocity, image_ids, pack, unpack
from editing_core.presets import edit_nfe, resolve_params
from editing_core.region import Region, RegionPlan, Trajectory, as_region
from editing_core.schedule import sampling_timesteps
from editing_core.solvers import MIDPOINT, SOLVERS, solver_nfe
from editing_core.turn import (
    Anchors,
    Cancel,
    EditResult,
    Progress,
    ProgressChannel,
    PromptEmbeds,
    Turn,
)
from mtedit.text import error_text

log = logging.getLogger(__name__)


class FluxBackend:
    """FLUX.1 components plus the multi-turn editing method."""

    def __init__(self, *, transformer, vae, text_encoder, tokenizer, text_encoder_2, tokenizer_2,
                 scheduler_config: Mapping | None, model_id: str = "", device="cpu",
                 dtype=torch.float32, offload: str = "none", max_side: int | None = None):
        self.transformer, self.vae = transformer, vae
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.text_encoder_2, self.tokenizer_2 = text_encoder_2, tokenizer_2
        self.scheduler_config = dict(scheduler_config) if scheduler_config is not None else None
        self.model_id = model_id
        self.device, self.dtype, self.offload = torch.device(device), dtype, offload
        self.max_side = working_side(model_side(vae.config), max_side)  # the editing grid
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
                        offload="none", max_side: int | None = None) -> FluxBackend:
        """Load a diffusers-format FLUX.1 [dev] or [schnell] folder (or cached hub id), offline.

        device: auto | cpu | cuda | cuda:N | mps. dtype: auto (bf16 on CUDA, fp32 on CPU) |
        float32 | bfloat16 | float16. offload: none | model (each component moves to the
        device while it runs) | sequential (accelerate's layer-by-layer offload).
        """
        folder = loading.resolve_model_folder(model)
        dev = loading.resolve_device(device)
        dt = loading.resolve_dtype(dtype, dev)
        off = loading.resolve_offload(offload)
        parts = loading.load_parts(folder, dt)
        sched = loading.scheduler_config(folder, bool(parts["transformer"].config.guidance_embeds))
        with out_of_memory_as_error("moving the model to the device"):
            return cls(**parts, scheduler_config=sched, model_id=str(model), device=dev, dtype=dt,
                       offload=off, max_side=max_side)

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
            raise ImageInputError(f"not a readable image: {error_text(exc)}") from exc
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
        with out_of_memory_as_error(f"encoding a {img.width}x{img.height} image"), \
                self._on_device(self.vae):
            z = self.vae.encode(x).latent_dist.mode()
        return ((z.float() - self.shift_factor) * self.scaling_factor).cpu()

    @torch.no_grad()
    def decode_latent(self, latent: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
        """Clean latent -> RGB image; `size` (W, H) resizes to that size."""
        z = latent.float() / self.scaling_factor + self.shift_factor
        with out_of_memory_as_error("decoding a latent"), self._on_device(self.vae):
            x = self.vae.decode(z.to(self.device, self.vae.dtype)).sample
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
        n = x.shape[0]
        g = torch.full((n,), float(guidance), device=self.device, dtype=torch.float32)
        t_ = torch.full((n,), float(t), device=self.device, dtype=self.dtype)
        out = flux_velocity(self.transformer, x.to(self.dtype), t_, g if self.has_guidance else None,
                            emb.pooled, emb.t5, emb.text_ids, img_ids)
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
             cancel: Cancel | None = None, region=None, previous_image=None) -> EditResult:
        """One editing turn: invert `source` with the source prompt, sample with the target.

        source: a PIL image (or path / bytes; encoded once) or a clean latent (chained, no
        VAE round trip). anchors: the lineage's root latent and the edited node's latent
        (defaults: the source itself). Returns the new clean latent and its image, at
        `output_size` or, for an image source, at the source's original size.

        region: where the edit may change the image (a `Region`, a bool / float array or
        a PIL L image at the previous image's resolution; None: everywhere, as without
        it). Outside it the sampler keeps the inversion's own trajectory (the latent ends
        on the source latent there) and the image is the previous image, byte for byte:
        `previous_image` (default: the source image, or for a latent source its decoding).
        The result then has the previous image's size; params["region"] records it.
        """
        params = resolve_params(preset, overrides)
        if not isinstance(target_prompt, str) or not target_prompt.strip():
            raise ValueError("the target prompt is empty: describe the edited image")
        if isinstance(focus_words, str):
            focus_words = [focus_words]
        source_prompt = source_prompt or ""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        region = as_region(region)
        if region is not None and region.empty:
            raise ValueError("the region is empty: nothing could change; mark where the edit "
                             "may act, or edit without a region")
        if isinstance(source, torch.Tensor):
            x0 = self._check_latent(source, "source latent")
        else:
            if region is not None and previous_image is None:
                source = previous_image = to_rgb(load_image(source))
            img, size = self.prepare_image(source)
            output_size = output_size or size
            t0 = time.perf_counter()
            x0 = self.encode_image(img)
            timings["encode_image"] = time.perf_counter() - t0
        plan = None
        if region is not None:
            if previous_image is None:
                previous_image = self.decode_latent(x0, output_size)
            previous_image = to_rgb(load_image(previous_image))
            if output_size is not None and tuple(output_size) != previous_image.size:
                raise ValueError(f"with a region the result has the previous image's size "
                                 f"{previous_image.size}, not {tuple(output_size)}")
            output_size = previous_image.size
            plan = RegionPlan.fit(region, output_size, tuple(x0.shape[-2:]))
        anchors = anchors or Anchors(source=x0)
        turn = Turn(
            x0=x0, source_prompt=source_prompt, target_prompt=target_prompt,
            source_anchor=self._check_latent(anchors.source, "anchor source", like=x0),
            previous_anchor=x0 if anchors.previous is None else self._check_latent(
                anchors.previous, "anchor previous", like=x0),
            focus_words=tuple(focus_words or ()), params=params, seed=int(seed),
            free=None if plan is None else plan.free)
        channel = ProgressChannel(edit_nfe(params), progress, cancel)
        side = f"{x0.shape[-1] * self.vae_scale_factor}x{x0.shape[-2] * self.vae_scale_factor}"
        with out_of_memory_as_error(f"editing a {side} image"):
            latent = self._edit_latent(turn, channel, timings)
            t0 = time.perf_counter()
            image = self.decode_latent(latent, output_size)
            timings["decode"] = time.perf_counter() - t0
            if plan is not None:
                t0 = time.perf_counter()
                image = plan.paste(image, previous_image)
                timings["composite"] = time.perf_counter() - t0
                turn.notes["region"] = plan.describe()
        timings["total"] = time.perf_counter() - t_start
        params = {**params, **turn.notes, "focus_words": list(turn.focus_words)}
        return EditResult(latent=latent, image=image, params=params, timings=timings,
                          nfe=channel.done, seed=int(seed))

    def auto_region(self, source, source_prompt: str, target_prompt: str, focus_words=(),
                    seed: int = 0, *, size: tuple[int, int] | None = None,
                    method: str | None = None, threshold: float | None = None,
                    grow: int | None = None) -> Region:
        """Where the edit from `source_prompt` to `target_prompt` acts, found by the model
        (editing_core/auto_region.py): a Region at `size` (W, H; default: the image's own
        size, or the latent's pixel size). Check its `status` ("empty", "most", "ok"):
        an empty mask or one over most of the image is returned as it is, never widened."""
        from editing_core.auto_region import find_region

        if not isinstance(target_prompt, str) or not target_prompt.strip():
            raise ValueError("the target prompt is empty: describe the edited image")
        if isinstance(focus_words, str):
            focus_words = [focus_words]
        if isinstance(source, torch.Tensor):
            x0 = self._check_latent(source, "source latent")
            own = (x0.shape[-1] * self.vae_scale_factor, x0.shape[-2] * self.vae_scale_factor)
        else:
            img, own = self.prepare_image(source)
            x0 = self.encode_image(img)
        with out_of_memory_as_error("finding the edit's region"):
            return find_region(self, x0, source_prompt or "", target_prompt, focus_words,
                               size=tuple(size or own), seed=int(seed), method=method,
                               threshold=threshold, grow=grow)

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

    @staticmethod
    def _negative(params: Mapping) -> bool:
        return params["true_cfg"] > 1.0 and bool(params["negative_prompt"])

    def _velocity(self, emb, guidance, ids, *, phase: str, hooks=None, neg=None,
                  true_cfg: float = 1.0):
        """velocity_fn for the solvers: one model call (two with true CFG) per evaluation."""

        def call(x, t, *, step, substep):
            if hooks is not None:
                hooks.set_call(phase=phase, step=step, t=float(t), substep=substep)
            if neg is None:
                return self._forward(x, t, emb, guidance, ids)
            # negative first: highlighting keeps the last call's maps
            v_neg = self._forward(x, t, neg, guidance, ids)
            v = self._forward(x, t, emb, guidance, ids)
            return v_neg + true_cfg * (v - v_neg)

        return call

    @torch.no_grad()
    def _edit_latent(self, turn: Turn, channel: ProgressChannel, timings: dict) -> torch.Tensor:
        params = turn.params
        _, _, h, w = turn.x0.shape
        text_len = self.text_length(params)
        t0 = time.perf_counter()
        emb_src = self.encode_prompt(turn.source_prompt, text_len)
        emb_tgt = self.encode_prompt(turn.target_prompt, text_len)
        neg = None
        if self._negative(params):
            neg = self.encode_prompt(params["negative_prompt"], text_len)
        timings["encode_prompt"] = time.perf_counter() - t0

        grid = self.timesteps(params["steps"], (h, w))
        solver = SOLVERS[params["solver"]]
        ids = image_ids(h, w).to(self.device, self.dtype)
        x = pack(turn.x0).to(self.device)
        inv_control = None
        if params["gamma"] > 0:
            inv_control = ctl.inversion_control(x.shape, seed=turn.seed, gamma=params["gamma"],
                                                half_step=params["solver"] in MIDPOINT,
                                                device=self.device)
        sample_control = None
        if params["control"] == "dual":
            sample_control = ctl.DualControl(
                pack(turn.source_anchor).to(self.device), pack(turn.previous_anchor).to(self.device),
                lam=params["lam"], eta=params["eta"], stop=params["stop"], clock=params["clock"])

        hooks, focus = self._make_hooks(grid, params, turn.target_prompt, turn.focus_words, text_len)
        turn.notes.update(focus)
        with self._on_device(self.transformer), hooks or contextlib.nullcontext():
            channel.check()
            t0 = time.perf_counter()
            inv_fn = self._velocity(emb_src, params["inversion_guidance"], ids, phase="invert",
                                    hooks=hooks)
            traj = None if turn.free is None else Trajectory(x, turn.free)
            noise = solver(inv_fn, x, grid.flip(0), control=inv_control,
                           callback=channel.callback("invert"),
                           after_step=None if traj is None else traj.record)
            self._sync()
            timings["invert"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            smp_fn = self._velocity(emb_tgt, params["guidance"], ids, phase="sample", hooks=hooks,
                                    neg=neg, true_cfg=params["true_cfg"])
            out = solver(smp_fn, noise, grid, control=sample_control,
                         callback=channel.callback("sample", 2 if neg is not None else 1),
                         after_step=None if traj is None else traj.reset)
            self._sync()
            timings["sample"] = time.perf_counter() - t0
        return unpack(out, h, w).float().cpu()

    def _make_hooks(self, grid, params, target_prompt, focus_words, text_len):
        """Attention hooks for V injection / highlighting (None when neither is on), and
        what was highlighted: {"focus_positions": [...], "focus_fallback": how} or {}."""
        highlight = bool(params["highlight"])
        if params["inject"] <= 0 and not highlight:
            return None, {}
        from editing_core.attention import AttentionHooks

        focus: dict = {}
        positions: list[int] = []
        if highlight:
            from editing_core.focus import fallback_focus, focus_token_positions

            if focus_words:
                positions = list(focus_token_positions(self.tokenizer_2, target_prompt,
                                                       list(focus_words), text_len))
            if not positions:
                positions, how = fallback_focus(
                    self.tokenizer_2, target_prompt, text_len, params["highlight_fallback"],
                    params["highlight_fallback_position"])
                focus["focus_fallback"] = how
                log.info("highlighting: no focus word %s found in %r; %s", list(focus_words),
                         target_prompt, f"highlighting its {how}" if positions else
                         "highlighting is off for this edit")
            focus["focus_positions"] = positions
        hooks = AttentionHooks(self.transformer, timesteps=[float(t) for t in grid],
                               inject_steps=int(params["inject"]),
                               highlight=highlight and bool(positions), focus_positions=positions,
                               text_len=text_len, params=dict(params))
        return hooks, focus

    # ------------------------------------------------------------------ text to image
    @property
    def native_side(self) -> int:
        """The long side images are edited and generated at: the side the model was
        trained at (editing_core.grid), capped by max_side when that was given."""
        return self.max_side

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
        if self._negative(params):
            neg = self.encode_prompt(params["negative_prompt"], text_len)
        timings["encode_prompt"] = time.perf_counter() - t_start
        g = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn(1, self.latent_channels, lh, lw, generator=g)
        grid = self.timesteps(params["steps"], (lh, lw))
        calls = 2 if neg is not None else 1
        channel = ProgressChannel(calls * solver_nfe(params["solver"], params["steps"]),
                                  progress, cancel)
        ids = image_ids(lh, lw).to(self.device, self.dtype)
        with out_of_memory_as_error(f"generating a {w}x{h} image"):
            with self._on_device(self.transformer):
                channel.check()
                t0 = time.perf_counter()
                fn = self._velocity(emb, params["guidance"], ids, phase="sample", neg=neg,
                                    true_cfg=params["true_cfg"])
                out = SOLVERS[params["solver"]](fn, pack(noise).to(self.device), grid,
                                                callback=channel.callback("sample", calls))
                self._sync()
                timings["sample"] = time.perf_counter() - t0
            latent = unpack(out, lh, lw).float().cpu()
            t0 = time.perf_counter()
            image = self.decode_latent(latent, (width, height) if width and height else None)
            timings["decode"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        return EditResult(latent=latent, image=image, params={**params, "prompt": prompt},
                          timings=timings, nfe=channel.done, seed=int(seed))
