"""The toy model's VAE stages: train the VAE, encode the training latents once, and
fine-tune the decoder alone (see `toyworld.train`)."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import components as C
from .train_config import Config
from .train_shared import Log, cosine_lr, psnr, resume, to_tensor
from .world import RESOLUTION, caption, heldout_scenes, render, training_scenes


def train_vae(cfg: Config, log: Log):
    path = cfg.work_dir / "vae.pt"
    torch.manual_seed(cfg.seed)
    vae = C.SPEC.vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    step = resume(path, {"model": vae, "opt": opt}, log, "vae")
    if step >= cfg.vae_steps:
        return vae
    scenes = training_scenes(cfg.vae_pool, cfg.seed + 1, max_objects=3, striped_p=0.3)
    pool = to_tensor([render(s) for s in scenes])
    val = to_tensor([render(s) for s in heldout_scenes(128, cfg.seed + 2, max_objects=3)])
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)
    crop = 32
    bar = tqdm(total=cfg.vae_steps, initial=step, desc="vae", disable=not cfg.progress)
    t0 = time.time()
    while step < cfg.vae_steps:
        idx = torch.randint(0, len(pool), (cfg.vae_batch,), generator=gen)
        oy, ox = torch.randint(0, RESOLUTION - crop + 1, (2,), generator=gen).tolist()
        x = pool[idx, :, oy : oy + crop, ox : ox + crop]
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg.vae_steps, cfg.vae_lr)
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample(generator=gen)).sample
        rec = F.l1_loss(y, x) + F.mse_loss(y, x)
        kl = post.kl().mean() / x[0].numel()
        loss = rec + 1e-6 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{rec.item():.4f}")
        if step % cfg.ckpt_every == 0 or step == cfg.vae_steps:
            with torch.no_grad():
                vae.eval()
                p = psnr(vae.decode(vae.encode(val).latent_dist.mode()).sample, val)
                vae.train()
            torch.save({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}, path)
            log(f"vae step {step} rec {rec.item():.4f} val_psnr {p:.2f} dB "
                f"({time.time() - t0:.0f}s this run)")  # fmt: skip
    bar.close()
    return vae


def finetune_decoder(cfg: Config, vae, log: Log):
    """Train the decoder alone: the encoder, hence the transformer's latents, stay fixed."""
    path = cfg.work_dir / "decoder.pt"
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.vae_lr / 2, weight_decay=0.0)
    step = resume(path, {"model": vae, "opt": opt})
    if step >= cfg.decoder_steps:
        return vae
    vae.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    scenes = training_scenes(cfg.vae_pool, cfg.seed + 5, max_objects=3, striped_p=0.3)
    pool = to_tensor([render(s) for s in scenes])
    val = to_tensor([render(s) for s in heldout_scenes(128, cfg.seed + 2, max_objects=3)])
    gen = torch.Generator().manual_seed(cfg.seed * 31 + step)
    bar = tqdm(total=cfg.decoder_steps, initial=step, desc="decoder", disable=not cfg.progress)
    while step < cfg.decoder_steps:
        idx = torch.randint(0, len(pool), (cfg.vae_batch // 4,), generator=gen)
        x = pool[idx]
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, cfg.decoder_steps, cfg.vae_lr / 2, warmup=20)
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mode()
        y = vae.decode(z).sample
        loss = F.l1_loss(y, x) + F.mse_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % cfg.ckpt_every == 0 or step == cfg.decoder_steps:
            with torch.no_grad():
                p = psnr(vae.decode(vae.encode(val).latent_dist.mode()).sample, val)
            state = {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
            torch.save(state, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            log(f"decoder step {step} loss {loss.item():.4f} val_psnr {p:.2f} dB")
    bar.close()
    vae.requires_grad_(True)
    return vae


def encode_latents(cfg: Config, vae, log: Log):
    path = cfg.work_dir / "latents.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    scenes = training_scenes(cfg.n_latents, cfg.seed + 3)
    vae.eval()
    means = []
    with torch.no_grad():
        for i in tqdm(range(0, len(scenes), 256), desc="encode", disable=not cfg.progress):
            x = to_tensor([render(s) for s in scenes[i : i + 256]])
            means.append(vae.encode(x).latent_dist.mode())
    z = torch.cat(means)
    shift, scale = z.mean().item(), 1.0 / z.std().item()
    data = {
        "latents": ((z - shift) * scale).half(),
        "captions": [caption(s) for s in scenes],
        "shift_factor": shift,
        "scaling_factor": scale,
    }
    torch.save(data, path)
    log(f"latents: {len(scenes)} scenes, shift {shift:.4f} scale {scale:.4f}")
    return data
