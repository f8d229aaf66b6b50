"""`mtedit edit` and `mtedit generate`: the editing core from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from editing_core.limits import argparse_type
from editing_core.presets import PRESETS
from mtedit.text import error_text


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="diffusers FLUX folder, cached hub id, or tiny-random "
                   "(default: MTEDIT_MODEL)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (default: MTEDIT_DEVICE)")
    p.add_argument("--dtype", help="auto | float32 | bfloat16 | float16 (default: MTEDIT_DTYPE)")
    p.add_argument("--offload", choices=("none", "model", "sequential"),
                   help="CPU offload (default: MTEDIT_OFFLOAD)")
    p.add_argument("--max-side", type=argparse_type("max_side"), help="long side of the model grid in pixels "
                   "(default: MTEDIT_MAX_SIDE)")


def add_edit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="mtc", choices=sorted(PRESETS))
    p.add_argument("--steps", type=argparse_type("steps"), help="solver steps (preset default otherwise)")
    p.add_argument("--guidance", type=argparse_type("guidance"), help="sampling guidance")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any preset parameter, e.g. --set eta=0.8 (repeatable)")
    p.add_argument("--seed", type=argparse_type("seed"), default=0)


def parse_overrides(args) -> dict:
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


def backend_from_args(args):
    from editing_core.backend import FluxBackend
    from mtedit.settings import Settings

    s = Settings.from_env()
    return FluxBackend.from_pretrained(
        args.model or s.model, device=args.device or s.device, dtype=args.dtype or s.dtype,
        offload=args.offload or s.offload, max_side=args.max_side or s.max_side)


def print_progress(done: int, total: int, stage: str) -> None:
    print(f"\r{stage:>6} {done}/{total}", end="" if done < total else "\n", file=sys.stderr,
          flush=True)


def fail(exc: Exception) -> int:
    print(f"mtedit: {error_text(exc)}", file=sys.stderr)
    return 1


def cmd_edit(args) -> int:
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    try:
        resolve_params(args.preset, parse_overrides(args))  # bad parameters fail before loading
        backend = backend_from_args(args)
        region = _region_arg(args, backend)
        result = backend.edit(args.image, args.source, args.target, focus_words=args.focus,
                              preset=args.preset, overrides=parse_overrides(args), seed=args.seed,
                              progress=print_progress, region=region)
        result.image.save(args.output)
    except (EditingError, ValueError, OSError) as exc:
        return fail(exc)
    if args.latent:
        from editing_core.latents import latent_to_bytes

        Path(args.latent).write_bytes(latent_to_bytes(result.latent))
    print(f"wrote {args.output} ({result.image.width}x{result.image.height}); NFE {result.nfe}; "
          f"{result.timings['total']:.2f} s")
    return 0


def _region_arg(args, backend):
    """--region: None, a mask image (white: may change), or "auto" (found from the edit)."""
    if not args.region:
        return None
    if args.region == "auto":
        region = backend.auto_region(args.image, args.source, args.target, args.focus, args.seed)
        what = {"empty": "found nothing to change: the edit is not run",
                "most": "covers most of the image"}.get(region.status, "")
        print(f"region: automatic, {region.coverage:.0%} of the image"
              + (f" ({what})" if what else ""), file=sys.stderr)
        if region.empty:
            raise ValueError("the automatic region is empty: the two prompts ask for no "
                             "visible change; draw a mask or rephrase the target")
        return region
    from editing_core.images import load_image

    return load_image(args.region)


def cmd_generate(args) -> int:
    from editing_core.errors import EditingError
    from editing_core.presets import resolve_params

    try:
        resolve_params(args.preset, parse_overrides(args))
        backend = backend_from_args(args)
        result = backend.generate(args.prompt, width=args.width, height=args.height,
                                  preset=args.preset, overrides=parse_overrides(args), seed=args.seed,
                                  progress=print_progress)
        result.image.save(args.output)
    except (EditingError, ValueError, OSError) as exc:
        return fail(exc)
    print(f"wrote {args.output} ({result.image.width}x{result.image.height}); NFE {result.nfe}; "
          f"{result.timings['total']:.2f} s")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("edit", help="edit an image with a source and a target prompt")
    p.add_argument("image", help="input image (any size or mode)")
    p.add_argument("--source", default="", help="prompt describing the input image")
    p.add_argument("--target", required=True, help="prompt describing the wanted image")
    p.add_argument("--focus", nargs="*", default=[], metavar="WORD",
                   help="words of the target prompt to highlight (mtc)")
    p.add_argument("-o", "--output", required=True, help="output image (PNG)")
    p.add_argument("--latent", help="also write the clean latent (safetensors) here")
    p.add_argument("--region", metavar="MASK|auto",
                   help="change only this region: a mask image of the input's size (white: may "
                        "change), or auto (found from the two prompts); elsewhere the output "
                        "is the input, pixel for pixel")
    add_edit_args(p)
    add_model_args(p)
    p.set_defaults(func=cmd_edit)

    p = subparsers.add_parser("generate", help="text to image")
    p.add_argument("--prompt", required=True)
    p.add_argument("--width", type=argparse_type("width"))
    p.add_argument("--height", type=argparse_type("height"))
    p.add_argument("-o", "--output", required=True)
    add_edit_args(p)
    add_model_args(p)
    p.set_defaults(func=cmd_generate)
