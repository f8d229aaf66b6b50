"""The toy model's transformer stage: rectified flow in the VAE's latent space with the
text encoders frozen, and a quick text-to-image check read back by the detector."""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from editing_core.latents import flux_velocity, image_ids, pack, unpack
from editing_core.schedule import DEV_SHIFT, sampling_timesteps
from editing_core.solvers import euler

from . import components as C
from .train_config import Config
from .train_shared import Log, cosine_lr, resume, tokenize
from .train_text import train_text
from .world import RESOLUTION, caption, heldout_scenes


class TextStack(torch.nn.Module):
    """The two text encoders as FluxPipeline uses them: CLIP pooled + T5 sequence."""

    def __init__(self, clip, t5):
        super().__init__()
        self.clip, self.t5 = clip, t5

    def forward(self, clip_ids, t5_ids):
        pooled = self.clip(clip_ids, output_hidden_states=False).pooler_output
        seq = self.t5(t5_ids, output_hidden_states=False)[0]
        return pooled, seq


def velocity(transformer, text, x, t, g, clip_ids, t5_ids, img_ids, txt_ids):
    pooled, seq = text(clip_ids, t5_ids)
    return flux_velocity(transformer, x, t, g, pooled, seq, txt_ids, img_ids)


def sample_t(n: int, gen: torch.Generator) -> torch.Tensor:
    """Half logit-normal, half uniform, in (0, 1)."""
    ln = torch.sigmoid(torch.randn(n, generator=gen))
    un = torch.rand(n, generator=gen)
    pick = torch.rand(n, generator=gen) < 0.5
    return torch.where(pick, ln, un).clamp(1e-4, 1 - 1e-4)


def train_transformer(cfg: Config, data: dict, log: Log, vae=None):
    path = cfg.work_dir / "transformer.pt"
    tok, tok2 = C.build_tokenizers()
    clip, t5 = train_text(cfg, log)
    torch.manual_seed(cfg.seed + 10)
    text = TextStack(clip, t5).eval().requires_grad_(False)  # frozen: see the module docstring
    transformer = C.SPEC.transformer()
    model = torch.nn.ModuleDict({"transformer": transformer, "text": text})
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(transformer.parameters(), lr=cfg.lr, weight_decay=0.0)
    text_state = copy.deepcopy(text.state_dict())
    step = resume(path, {"model": model, "ema": ema, "opt": opt}, log, "transformer")
    if step:
        # The text stage's encoders are the source of truth (they are frozen here).
        model.text.load_state_dict(text_state)
        ema.text.load_state_dict(text_state)
    if step >= cfg.steps:
        return model, ema, tok, tok2
    lat = data["latents"]
    n, _, h, w = lat.shape
    clip_ids = tokenize(tok, data["captions"])
    t5_ids = tokenize(tok2, data["captions"])
    empty_clip, empty_t5 = tokenize(tok, [""]), tokenize(tok2, [""])
    img_ids, txt_ids = image_ids(h, w), torch.zeros(C.MAX_TOKENS, 3)
    distill_from = int(cfg.steps * (1 - cfg.distill_frac))
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + step)
    bar = tqdm(total=cfg.steps, initial=step, desc="transformer", disable=not cfg.progress)
    t0, avg = time.time(), None
    while step < cfg.steps:
        b = cfg.batch
        idx = torch.randint(0, n, (b,), generator=gen)
        x0 = pack(lat[idx].float())
        ci, ti = clip_ids[idx].clone(), t5_ids[idx].clone()
        drop = torch.rand(b, generator=gen) < cfg.empty_p
        ci[drop], ti[drop] = empty_clip, empty_t5
        e = torch.randn(x0.shape, generator=gen)
        t = sample_t(b, gen)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * e
        target = e - x0
        g = 1 + 4 * torch.rand(b, generator=gen)
        if step >= distill_from:
            # Guidance distillation from the EMA model's own CFG (FLUX.1-dev-style input).
            g = torch.where(torch.rand(b, generator=gen) < 0.3, torch.ones(b), g)
            with torch.no_grad():
                ones = torch.ones(b)
                v_c = velocity(ema.transformer, ema.text, xt, t, ones, ci, ti, img_ids, txt_ids)
                v_u = velocity(ema.transformer, ema.text, xt, t, ones,
                               empty_clip.expand(b, -1), empty_t5.expand(b, -1),
                               img_ids, txt_ids)  # fmt: skip
            cfg_target = v_u + g[:, None, None] * (v_c - v_u)
            use = ((g > 1) & ~drop)[:, None, None]
            target = torch.where(use, cfg_target, target)
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, cfg.steps, cfg.lr, warmup=200)
        with torch.no_grad():
            pooled, seq = text(ci, ti)
        pred = flux_velocity(transformer, xt, t, g, pooled, seq, txt_ids, img_ids)
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(transformer.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.transformer.parameters(), transformer.parameters()):
                pe.lerp_(pm, 1 - cfg.ema)
        step += 1
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{avg:.4f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            state = {"model": model.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "step": step}  # fmt: skip
            torch.save(state, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            log(f"transformer step {step} loss {avg:.4f} ({time.time() - t0:.0f}s this run)")
            if vae is not None and cfg.eval_every and step % cfg.eval_every == 0:
                ema.eval()
                gs = (1.0, 3.5) if step > distill_from else (1.0,)
                for gv in gs:
                    acc = quick_eval(ema, vae, data, tok, tok2, guidance=gv)
                    log(f"  eval g={gv}: " + " ".join(f"{k} {v:.2f}" for k, v in acc.items()))
    bar.close()
    return model, ema, tok, tok2


@torch.no_grad()
def quick_eval(model, vae, data: dict, tok, tok2, n: int = 16, steps: int = 12,
               guidance: float = 1.0, seed: int = 0) -> dict:  # fmt: skip
    """Text-to-image on held-out captions (the core's Euler and FLUX.1-dev shift), read back by the detector."""
    from .world import detect, scene_accuracy

    scenes = heldout_scenes(n, seed + 99)
    texts = [caption(s) for s in scenes]
    ci, ti = tokenize(tok, texts), tokenize(tok2, texts)
    h = w = RESOLUTION // 4
    img_ids, txt_ids = image_ids(h, w), torch.zeros(C.MAX_TOKENS, 3)
    x = pack(torch.randn(n, C.LATENT_CHANNELS, h, w, generator=torch.Generator().manual_seed(seed)))
    ts = sampling_timesteps(steps, (h // 2) * (w // 2), DEV_SHIFT)
    g = torch.full((n,), guidance)

    def v(x, t, **_):
        return velocity(model.transformer, model.text, x, torch.full((n,), t), g, ci, ti, img_ids,
                        txt_ids)

    x = euler(v, x, ts)
    z = unpack(x, h, w) / data["scaling_factor"] + data["shift_factor"]
    imgs = (vae.decode(z).sample.clamp(-1, 1) + 1) * 127.5
    from PIL import Image

    acc: dict[str, float] = {}
    for im, s in zip(imgs.permute(0, 2, 3, 1).round().byte().numpy(), scenes):
        for k, v in scene_accuracy(detect(Image.fromarray(im)), s).items():
            acc[k] = acc.get(k, 0.0) + v / n
    return acc
