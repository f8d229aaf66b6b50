"""The toy model's text stage: pre-train the CLIP and T5 encoders on captions alone
(see `toyworld.train`)."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from . import components as C
from .train_config import Config
from .train_shared import Log, cosine_lr, tokenize
from .world import caption, heldout_scenes, is_heldout, random_scene

NO_LABEL = -100


def caption_labels(scene, tok2) -> tuple[list[int], dict[str, list[int]]]:
    """T5 token ids of the scene's caption and, per token, what it should encode.

    Tokens of an object's phrase ("a small red circle on the left") are labelled with
    that object's colour, shape, size and cell; every token, separators and padding
    included, with the background colour and texture.
    """
    from .world import COLOURS, SHAPES, SIZES, TEXTURES, describe

    enc = lambda text: tok2(text, add_special_tokens=False).input_ids
    objs = sorted(scene.objects, key=lambda o: o.cell)
    ids: list[int] = []
    owner: list[int | None] = []
    for j, o in enumerate(objs):
        if j:
            sep = enc(" and " if j == len(objs) - 1 else ", ")
            ids += sep
            owner += [None] * len(sep)
        phrase = enc(describe(o))
        ids += phrase
        owner += [j] * len(phrase)
    bg = ("striped " if scene.texture == "striped" else "") + f"{scene.background} background"
    rest = enc(f", on a {bg}" if objs else f"a {bg}")
    ids, owner = ids + rest, owner + [None] * len(rest)
    ids += [tok2.eos_token_id]
    owner += [None]
    assert ids == tok2(caption(scene)).input_ids, caption(scene)
    ids, owner = ids[: C.MAX_TOKENS], owner[: C.MAX_TOKENS]
    pad = C.MAX_TOKENS - len(ids)
    ids += [tok2.pad_token_id] * pad
    owner += [None] * pad
    colours, sizes = list(COLOURS), list(SIZES)

    def per_obj(f):
        return [NO_LABEL if j is None else f(objs[j]) for j in owner]

    labels = {
        "colour": per_obj(lambda o: colours.index(o.colour)),
        "shape": per_obj(lambda o: SHAPES.index(o.shape)),
        "size": per_obj(lambda o: sizes.index(o.size)),
        "cell": per_obj(lambda o: o.cell),
        "background": [colours.index(scene.background)] * C.MAX_TOKENS,
        "texture": [TEXTURES.index(scene.texture)] * C.MAX_TOKENS,
    }
    return ids, labels


TOKEN_HEADS = {"colour": 8, "shape": 3, "size": 2, "cell": 9, "background": 8, "texture": 2}


def train_text(cfg: Config, log: Log):
    """Pre-train CLIP and T5 on captions (see the module docstring); returns (clip, t5)."""
    from .world import COLOURS, TEXTURES

    path = cfg.work_dir / "text.pt"
    torch.manual_seed(cfg.seed + 10)
    tok, tok2 = C.build_tokenizers()
    clip, t5 = C.SPEC.text_encoders(tok, tok2)
    if path.exists():
        state = torch.load(path, weights_only=False)
        clip.load_state_dict(state["clip"])
        t5.load_state_dict(state["t5"])
        return clip, t5
    width = t5.config.d_model
    heads = torch.nn.ModuleDict({k: torch.nn.Linear(width, n) for k, n in TOKEN_HEADS.items()})
    # Pooled CLIP: background (8), texture (2), object count (3), occupied cells (9).
    pooled_head = torch.nn.Linear(clip.config.hidden_size, 8 + 2 + 3 + 9)
    params = [*clip.parameters(), *t5.parameters(), *heads.parameters(), *pooled_head.parameters()]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.0)
    colours = list(COLOURS)

    def batch(scenes):
        ids, labels = zip(*(caption_labels(s, tok2) for s in scenes))
        y = {k: torch.tensor([lab[k] for lab in labels]) for k in TOKEN_HEADS}
        cids = tokenize(tok, [caption(s) for s in scenes])
        g = torch.tensor([[colours.index(s.background), TEXTURES.index(s.texture),
                           len(s.objects)] for s in scenes])  # fmt: skip
        cells = torch.zeros(len(scenes), 9)
        for i, s in enumerate(scenes):
            for o in s.objects:
                cells[i, o.cell] = 1
        return torch.tensor(ids), y, cids, g, cells

    def losses(data):
        t5_ids, y, cids, g, cells = data
        seq = t5(t5_ids)[0]
        pooled = clip(cids).pooler_output
        out = pooled_head(pooled)
        token = {k: F.cross_entropy(heads[k](seq).flatten(0, 1), y[k].flatten(),
                                    ignore_index=NO_LABEL) for k in TOKEN_HEADS}  # fmt: skip
        glob = (F.cross_entropy(out[:, :8], g[:, 0]) + F.cross_entropy(out[:, 8:10], g[:, 1])
                + F.cross_entropy(out[:, 10:13], g[:, 2])
                + F.binary_cross_entropy_with_logits(out[:, 13:], cells))  # fmt: skip
        acc = {k: (heads[k](seq).argmax(-1) == y[k])[y[k] != NO_LABEL].float().mean().item()
               for k in TOKEN_HEADS}  # fmt: skip
        acc["pooled"] = ((out[:, :8].argmax(-1) == g[:, 0]) & (out[:, 8:10].argmax(-1) == g[:, 1])
                         & (out[:, 10:13].argmax(-1) == g[:, 2])
                         & ((out[:, 13:] > 0) == (cells > 0)).all(-1)).float().mean().item()  # fmt: skip
        return sum(token.values()) + glob, acc

    rng = random.Random(cfg.seed + 20)
    val = batch(heldout_scenes(512, cfg.seed + 21))
    steps = cfg.text_steps
    for step in range(steps):
        scenes = []
        while len(scenes) < 256:
            sc = random_scene(rng, max_objects=2, striped_p=0.2)
            if not is_heldout(caption(sc)):
                scenes.append(sc)
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, steps, 2e-3, warmup=50)
        loss, _ = losses(batch(scenes))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            with torch.no_grad():
                _, acc = losses(val)
            log(f"text step {step + 1} loss {loss.item():.4f} held-out accuracy "
                + " ".join(f"{k} {v:.3f}" for k, v in acc.items()))  # fmt: skip
    torch.save({"clip": clip.state_dict(), "t5": t5.state_dict(), "step": steps}, path)
    return clip.eval(), t5.eval()
