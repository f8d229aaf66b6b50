"""`mtedit bench ...`: every room's benchmarks behind one command group.

    mtedit bench reconstruct   M-turn reconstruction drift per preset (editing core)
    mtedit bench edit          a scripted multi-turn edit sequence per preset
    mtedit bench toy           multi-turn edits scored by the toy world's ground truth

The agent, navigation and storage benchmarks run as `python -m bench.agent`,
`python -m bench.navigation` and `python -m bench.storage`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from editing_core.cli import add_model_args, backend_from_args, fail, parse_overrides
from editing_core.presets import PRESETS


def _presets_and_chain(p: argparse.ArgumentParser, presets, chain: str, chain_help: str) -> None:
    """--presets (comma-separated names) and --chain (how an image passes between turns)."""
    p.add_argument("--presets", default=",".join(presets), help="comma-separated preset names")
    p.add_argument("--chain", choices=("latent", "pixel", "both"), default=chain, help=chain_help)


def _bench_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", help="source image (default: a generated test card)")
    p.add_argument("--size", type=int, default=128, help="side of the generated test card")
    _presets_and_chain(p, PRESETS, "latent", "pass clean latents between turns, or decode, "
                       "save as JPEG quality 75 and encode again (pixel), or both")
    p.add_argument("--steps", type=int, help="solver steps for every preset")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the figures to this JSON file")


def _is_toy(backend) -> bool:
    from mtedit.settings import BUNDLED_MODEL

    try:
        return Path(backend.model_id).resolve() == BUNDLED_MODEL.resolve()
    except (OSError, TypeError):
        return False


def _bench_image(args, backend):
    from editing_core.images import load_image

    if args.image:
        return load_image(args.image)
    if _is_toy(backend):  # the bundled model knows only its world: one of its scenes
        from bench.reconstruct import toy_scene
        from toyworld import world as W

        return W.render(toy_scene())
    from bench.reconstruct import calibration_card

    return calibration_card(min(args.size, backend.max_side))


def _bench_run(args, plan_fn) -> int:
    from bench import reconstruct as bench
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        return fail(ValueError(f"unknown presets: {', '.join(unknown) or '(none)'}; "
                                f"choose from {', '.join(PRESETS)}"))
    overrides = parse_overrides(argparse.Namespace(set=args.set, steps=args.steps, guidance=None))
    try:
        for name in presets:
            resolve_params(name, overrides)
        backend = backend_from_args(args)
        image, plan = plan_fn(args, backend)
        chains = ("latent", "pixel") if args.chain == "both" else (args.chain,)
        runs = [bench.run(backend, image, plan, presets, overrides=overrides, chain=chain,
                          seed=args.seed) for chain in chains]  # fmt: skip
    except (EditingError, ValueError, OSError) as exc:
        return fail(exc)
    for figures in runs:
        figures["model"] = str(args.model or backend.model_id)
        print(bench.format_table(figures))
    figures = runs[0] if len(runs) == 1 else runs
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"wrote {args.json}")
    return 0


def cmd_bench_reconstruct(args) -> int:
    def plan(args, backend):
        if args.turns < 1:
            raise ValueError("--turns must be at least 1")
        prompt = args.prompt
        if prompt is None:
            prompt = "a picture"
            if not args.image and _is_toy(backend):
                from bench.reconstruct import toy_scene
                from toyworld import world as W

                prompt = W.caption(toy_scene())
        p = {"source": prompt, "target": prompt, "focus": ()}
        return _bench_image(args, backend), [dict(p) for _ in range(args.turns)]

    return _bench_run(args, plan)


def cmd_bench_edit(args) -> int:
    from bench.reconstruct import load_script

    def plan(args, backend):
        script = load_script(args.script)
        if not args.image and script["image"]:
            args.image = str((Path(args.script).parent / script["image"]).resolve())
        return _bench_image(args, backend), script["plan"]

    return _bench_run(args, plan)


def cmd_bench(args) -> int:
    from bench import toy as bench
    from editing_core.backend import FluxBackend
    from editing_core.errors import EditingError
    from editing_core.presets import PRESETS, resolve_params
    from mtedit.settings import BUNDLED_MODEL, Settings

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        print(f"mtedit: unknown presets: {', '.join(unknown) or '(none)'}; "
              f"choose from {', '.join(PRESETS)}", file=sys.stderr)  # fmt: skip
        return 2
    chains = bench.CHAINS if args.chain == "both" else (args.chain,)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # one thread is fastest on a busy CPU
    try:
        overrides = parse_overrides(argparse.Namespace(set=args.set, steps=args.steps,
                                                       guidance=None))
        for name in presets:  # bad parameters fail before the model loads
            resolve_params(name, overrides)
        settings = Settings.from_env()
        model = args.model or str(BUNDLED_MODEL)
        backend = FluxBackend.from_pretrained(model, device=args.device or settings.device,
                                              dtype=settings.dtype)
        figures = bench.run(backend, scenes=args.scenes, turns=args.turns, presets=presets,
                            chains=chains, nfe=args.nfe, seed=args.seed, split=args.split,
                            t2i=args.t2i, overrides=overrides, region=args.region,
                            progress=not args.quiet)  # fmt: skip
    except (EditingError, ValueError, OSError) as exc:
        print(f"mtedit: {exc}", file=sys.stderr)
        return 1
    for fig in figures:
        fig["model"] = model
        fig["overrides"] = {k: str(v) for k, v in overrides.items()}
        print(bench.format_table(fig))
        print()
    if args.json:
        path = Path(args.json)
        path.write_text(json.dumps(figures, indent=2) + "\n")
        png = path.with_suffix(".png")
        bench.plot(figures, png)
        print(f"wrote {path} and {png}")
    return 0


def register(subparsers) -> None:
    from bench.toy import DEFAULT_PRESETS

    bench = subparsers.add_parser("bench", help="benchmarks: reconstruct, edit, ...")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    bench.set_defaults(func=lambda args: (bench.print_help(), 2)[1])

    p = bench_sub.add_parser("reconstruct", help="M-turn reconstruction drift per preset")
    p.add_argument("--prompt", help="source = target prompt (default: the toy scene's caption "
                   "on the bundled model, else 'a picture')")
    p.add_argument("--turns", type=int, default=10, help="chained turns (default 10)")
    _bench_common(p)
    add_model_args(p)
    p.set_defaults(func=cmd_bench_reconstruct)

    p = bench_sub.add_parser("edit", help="a scripted multi-turn edit sequence per preset")
    p.add_argument("--script", required=True, help="YAML: source, turns: [{target, focus}]")
    _bench_common(p)
    add_model_args(p)
    p.set_defaults(func=cmd_bench_edit)


    p = bench_sub.add_parser(
        "toy", help="multi-turn edits and text-to-image on the toy world, scored by ground truth")
    p.add_argument("--scenes", type=int, default=64, help="held-out scenes (default 64)")
    p.add_argument("--turns", type=int, default=10, help="chained edits per scene (default 10)")
    _presets_and_chain(p, DEFAULT_PRESETS, "both", "pass clean latents between turns (latent, "
                       "the app), decode + JPEG 75 + encode again (pixel), or run both (default)")
    p.add_argument("--nfe", type=int, help="run every preset at about this many model calls "
                   "per turn (default: each preset's own steps)")
    p.add_argument("--split", choices=("heldout", "tuning"), default="heldout",
                   help="benchmark scenes, or the disjoint tuning scenes (for tuning presets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--region", choices=("none", "auto", "truth"), default="none",
                   help="where each edit may change the image: everywhere (none), the edit's "
                        "own mask found by the model (auto), or the world's changed region "
                        "(truth, the ceiling); outside it the previous image is kept exactly")
    p.add_argument("--t2i", type=int, default=32, help="text-to-image samples (0: skip)")
    p.add_argument("--steps", type=int, help="solver steps for every preset (default: each preset's)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter of every preset run, e.g. --set eta=0.5")
    p.add_argument("--model", help="model folder (default: the bundled toy model)")
    p.add_argument("--device", help="auto | cpu | cuda ... (default: MTEDIT_DEVICE)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", help="write the figures (a list, one entry per chain mode) to this "
                   "JSON file, and the plot beside it (.png)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)
