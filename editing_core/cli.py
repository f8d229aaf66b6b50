"""`mtedit edit`, `mtedit generate` and `mtedit bench reconstruct|edit`.

The `bench` group is shared: editing_core.toy.cli, when present, adds its commands via
`register(subparsers, bench_subparsers)` (`bench toy`, `train-toy`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from editing_core.presets import PRESETS


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="diffusers FLUX folder, cached hub id, or tiny-random "
                   "(default: MTEDIT_MODEL)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (default: MTEDIT_DEVICE)")
    p.add_argument("--dtype", help="auto | float32 | bfloat16 | float16 (default: MTEDIT_DTYPE)")
    p.add_argument("--offload", choices=("none", "model", "sequential"),
                   help="CPU offload (default: MTEDIT_OFFLOAD)")
    p.add_argument("--max-side", type=int, help="long side of the model grid in pixels "
                   "(default: MTEDIT_MAX_SIDE)")


def _edit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="mtc", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, help="solver steps (preset default otherwise)")
    p.add_argument("--guidance", type=float, help="sampling guidance")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any preset parameter, e.g. --set eta=0.8 (repeatable)")
    p.add_argument("--seed", type=int, default=0)


def _overrides(args) -> dict:
    out: dict = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value
    if args.steps is not None:
        out["steps"] = args.steps
    if args.guidance is not None:
        out["guidance"] = args.guidance
    return out


def _backend(args):
    from editing_core.backend import FluxBackend
    from mtedit.settings import Settings

    s = Settings.from_env()
    return FluxBackend.from_pretrained(
        args.model or s.model, device=args.device or s.device, dtype=args.dtype or s.dtype,
        offload=args.offload or s.offload, max_side=args.max_side or s.max_side)


def _progress(done: int, total: int, stage: str) -> None:
    print(f"\r{stage:>6} {done}/{total}", end="" if done < total else "\n", file=sys.stderr,
          flush=True)


def _fail(exc: Exception) -> int:
    print(f"mtedit: {exc}", file=sys.stderr)
    return 1


def cmd_edit(args) -> int:
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    try:
        resolve_params(args.preset, _overrides(args))  # bad parameters fail before loading
        backend = _backend(args)
        result = backend.edit(args.image, args.source, args.target, focus_words=args.focus,
                              preset=args.preset, overrides=_overrides(args), seed=args.seed,
                              progress=_progress)
        result.image.save(args.output)
    except (EditingError, ValueError, OSError) as exc:
        return _fail(exc)
    if args.latent:
        from editing_core.latents import latent_to_bytes

        Path(args.latent).write_bytes(latent_to_bytes(result.latent))
    print(f"wrote {args.output} ({result.image.width}x{result.image.height}); NFE {result.nfe}; "
          f"{result.timings['total']:.2f} s")
    return 0


def cmd_generate(args) -> int:
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    try:
        resolve_params(args.preset, _overrides(args))
        backend = _backend(args)
        result = backend.generate(args.prompt, width=args.width, height=args.height,
                                  preset=args.preset, overrides=_overrides(args), seed=args.seed,
                                  progress=_progress)
        result.image.save(args.output)
    except (EditingError, ValueError, OSError) as exc:
        return _fail(exc)
    print(f"wrote {args.output} ({result.image.width}x{result.image.height}); NFE {result.nfe}; "
          f"{result.timings['total']:.2f} s")
    return 0


def _bench_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", help="source image (default: a generated test card)")
    p.add_argument("--size", type=int, default=128, help="side of the generated test card")
    p.add_argument("--presets", default="rf,rf_solver,fireflow,rf_inversion,mtc",
                   help="comma-separated preset names")
    p.add_argument("--chain", choices=("latent", "pixel"), default="latent",
                   help="pass clean latents between turns, or decode and re-encode (pixel)")
    p.add_argument("--steps", type=int, help="solver steps for every preset")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the figures to this JSON file")


def _bench_image(args, backend):
    from editing_core.images import load_image

    if args.image:
        return load_image(args.image)
    from editing_core.bench import calibration_card

    return calibration_card(min(args.size, backend.max_side))


def _bench_run(args, plan_fn) -> int:
    from editing_core import bench
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        return _fail(ValueError(f"unknown presets: {', '.join(unknown) or '(none)'}; "
                                f"choose from {', '.join(PRESETS)}"))
    overrides = _overrides(argparse.Namespace(set=args.set, steps=args.steps, guidance=None))
    try:
        for name in presets:
            resolve_params(name, overrides)
        backend = _backend(args)
        image, plan = plan_fn(args, backend)
        figures = bench.run(backend, image, plan, presets, overrides=overrides, chain=args.chain,
                            seed=args.seed)
    except (EditingError, ValueError, OSError) as exc:
        return _fail(exc)
    figures["model"] = str(args.model or backend.model_id)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"wrote {args.json}")
    return 0


def cmd_bench_reconstruct(args) -> int:
    def plan(args, backend):
        if args.turns < 1:
            raise ValueError("--turns must be at least 1")
        p = {"source": args.prompt, "target": args.prompt, "focus": ()}
        return _bench_image(args, backend), [dict(p) for _ in range(args.turns)]

    return _bench_run(args, plan)


def cmd_bench_edit(args) -> int:
    from editing_core.bench import load_script

    def plan(args, backend):
        script = load_script(args.script)
        if not args.image and script["image"]:
            args.image = str((Path(args.script).parent / script["image"]).resolve())
        return _bench_image(args, backend), script["plan"]

    return _bench_run(args, plan)


def register(subparsers) -> None:
    p = subparsers.add_parser("edit", help="edit an image with a source and a target prompt")
    p.add_argument("image", help="input image (any size or mode)")
    p.add_argument("--source", default="", help="prompt describing the input image")
    p.add_argument("--target", required=True, help="prompt describing the wanted image")
    p.add_argument("--focus", nargs="*", default=[], metavar="WORD",
                   help="words of the target prompt to highlight (mtc)")
    p.add_argument("-o", "--output", required=True, help="output image (PNG)")
    p.add_argument("--latent", help="also write the clean latent (safetensors) here")
    _edit_args(p)
    _model_args(p)
    p.set_defaults(func=cmd_edit)

    p = subparsers.add_parser("generate", help="text to image")
    p.add_argument("--prompt", required=True)
    p.add_argument("--width", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("-o", "--output", required=True)
    _edit_args(p)
    _model_args(p)
    p.set_defaults(func=cmd_generate)

    bench = subparsers.add_parser("bench", help="benchmarks: reconstruct, edit, ...")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    bench.set_defaults(func=lambda args: (bench.print_help(), 2)[1])

    p = bench_sub.add_parser("reconstruct", help="M-turn reconstruction drift per preset")
    p.add_argument("--prompt", default="a picture", help="source = target prompt")
    p.add_argument("--turns", type=int, default=3)
    _bench_common(p)
    _model_args(p)
    p.set_defaults(func=cmd_bench_reconstruct)

    p = bench_sub.add_parser("edit", help="a scripted multi-turn edit sequence per preset")
    p.add_argument("--script", required=True, help="YAML: source, turns: [{target, focus}]")
    _bench_common(p)
    _model_args(p)
    p.set_defaults(func=cmd_bench_edit)

    import importlib

    try:
        toy_cli = importlib.import_module("editing_core.toy.cli")
    except ModuleNotFoundError as exc:
        if exc.name != "editing_core.toy.cli":
            raise
    else:
        toy_cli.register(subparsers, bench_sub)
