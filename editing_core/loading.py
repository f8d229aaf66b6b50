"""Finding and loading a diffusers-format FLUX.1 folder, offline.

`FluxBackend.from_pretrained` is the public entry; this module answers where the
model is (a folder, a cached hub id, or 'tiny-random'), on which device and in which
dtype it runs, and reads its six parts and scheduler config with clear errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from editing_core.errors import DeviceOutOfMemory, ModelLoadError, out_of_memory_as_error
from editing_core.schedule import DEV_SHIFT

PARTS = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")
MODEL_VAR = "MTEDIT_MODEL"


def resolve_device(device: str | None) -> torch.device:
    """auto (CUDA, then MPS, then CPU) | cpu | cuda | cuda:N | mps."""
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """auto (bf16 on CUDA, fp16 on MPS, fp32 on CPU) | float32 | bfloat16 | float16."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        return {"cuda": torch.bfloat16, "mps": torch.float16}.get(device.type, torch.float32)
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return names[dtype]


def resolve_offload(offload) -> str:
    """none | model (each component on the device while it runs) | sequential (accelerate)."""
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


def load_parts(folder: Path, dtype: torch.dtype) -> dict:
    """The six FLUX parts of `folder` (keyword arguments of FluxBackend) in `dtype`."""
    missing = [p for p in PARTS if not (folder / p).is_dir()]
    if missing:
        raise ModelLoadError(
            f"model folder {folder} lacks {', '.join(missing)} (a diffusers FLUX.1 folder "
            f"has {', '.join(PARTS)}); set {MODEL_VAR} to a complete diffusers-format folder"
        )
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import AutoTokenizer, CLIPTextModel, T5EncoderModel

    kw = {"local_files_only": True, "dtype": dtype}
    loaders = {
        "transformer": lambda: FluxTransformer2DModel.from_pretrained(
            folder, subfolder="transformer", **kw),
        "vae": lambda: AutoencoderKL.from_pretrained(folder, subfolder="vae", **kw),
        "text_encoder": lambda: CLIPTextModel.from_pretrained(folder / "text_encoder", **kw),
        "text_encoder_2": lambda: T5EncoderModel.from_pretrained(folder / "text_encoder_2", **kw),
        "tokenizer": lambda: AutoTokenizer.from_pretrained(folder / "tokenizer",
                                                           local_files_only=True),
        "tokenizer_2": lambda: AutoTokenizer.from_pretrained(folder / "tokenizer_2",
                                                             local_files_only=True),
    }
    parts = {}
    for part, load in loaders.items():
        try:
            with out_of_memory_as_error(f"loading the {part}"):
                parts[part] = load()
        except DeviceOutOfMemory:
            raise
        except Exception as exc:
            raise ModelLoadError(f"could not load the {part} from {folder / part}: {exc} "
                                 f"(set {MODEL_VAR} to a complete FLUX.1 folder)") from exc
    return parts


def scheduler_config(folder: Path, guidance_embeds: bool) -> dict | None:
    """The folder's scheduler config; without one, dev models shift and schnell models do not."""
    path = folder / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        return dict(DEV_SHIFT) if guidance_embeds else None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"unreadable scheduler config {path}: {exc}") from exc
