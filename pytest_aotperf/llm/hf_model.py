"""The Hugging Face model of a spec with seeded random weights, built here or saved for vLLM to load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from .specs import ModelSpec

WEIGHTS_SEED = 0
"""Every backend builds its random weights from this seed, so that all of them run the same model."""
CPU_DTYPE = "float32"
"""The dtype on CPU unless a test says otherwise (bf16 matmuls are slow and inexact on most CPUs)."""
DTYPES = ("float32", "bfloat16", "float16")
INIT_STD = 0.2
"""Weights are drawn with this std instead of the configs' `initializer_range` (0.02): with 0.02 a
residual stream barely moves and the tiny model repeats its last prompt token forever, so greedy
tokens (and any agreement between backends) would say nothing. Speed does not depend on the values."""


def resolve_dtype(spec: ModelSpec, device: str, requested: Optional[str]) -> str:
    """The dtype to run in: the requested one, else the config's `torch_dtype` on a GPU and float32 on CPU."""
    if requested is not None:
        name = str(requested).removeprefix("torch.")
        if name not in DTYPES:
            raise ValueError(f"dtype {requested!r} is not one of {', '.join(DTYPES)}")
        return name
    if not device.startswith("cuda"):
        return CPU_DTYPE
    config = json.loads((Path(spec.path) / "config.json").read_text())
    configured = str(config.get("torch_dtype") or config.get("dtype") or CPU_DTYPE)
    return configured if configured in DTYPES else CPU_DTYPE


def load_model_class(spec: ModelSpec) -> Any:
    """Import the spec's `transformers` model class: a one-time cost of the process (hundreds of MiB of
    modules), paid before a build is measured so that the build's memory is the model's."""
    from transformers import AutoConfig, AutoModelForCausalLM

    return AutoModelForCausalLM._model_mapping[type(AutoConfig.from_pretrained(spec.path))]


def build_model(spec: ModelSpec, dtype: str, device: str, seed: int = WEIGHTS_SEED) -> Any:
    """The spec's `transformers` causal LM in `dtype` on `device`, its weights drawn from `seed` there.

    The weights are made on the device itself (no host copy of an 8B model); the same seed on the
    same kind of device gives the same weights, whichever process builds them.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(spec.path)
    config.initializer_range = INIT_STD
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
            config, dtype=getattr(torch, dtype), attn_implementation="sdpa"
        )
    return model.eval().requires_grad_(False)


def save_seeded(spec: ModelSpec, folder: Union[str, Path], dtype: str, device: str, seed: int = WEIGHTS_SEED) -> str:
    """Save the seeded model (config.json and safetensors) in `folder`, for vLLM to load; returns the folder."""
    import torch

    model = build_model(spec, dtype, device, seed)
    model.save_pretrained(str(folder), safe_serialization=True)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return str(folder)


def seeded_folder(
    spec: ModelSpec, dtype: str, device: str, cache_root: Union[str, Path], seed: int = WEIGHTS_SEED
) -> str:
    """The seeded model saved once under `cache_root` (vLLM's cache folder), in a folder named by what
    makes the weights (config, dtype, device kind, seed); a later process finds the same folder.

    The path must not change between processes: vLLM keys its compiled graphs by the model's path,
    so a new folder per process would make every warm build a cold one.
    """
    config = (Path(spec.path) / "config.json").read_bytes()
    kind = device.split(":")[0]
    digest = hashlib.sha256(config + f"|{dtype}|{kind}|{seed}|{INIT_STD}".encode()).hexdigest()[:16]
    folder = Path(cache_root) / "aotperf-seeded" / f"{Path(spec.path).name}-{dtype}-{kind}-{digest}"
    if folder.is_dir():
        return str(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = tempfile.mkdtemp(dir=folder.parent, prefix=f"{folder.name}.partial-")
    try:
        save_seeded(spec, partial, dtype, device, seed)
        os.rename(partial, folder)  # only a complete folder ever has the final name
    except OSError:
        if not folder.is_dir():  # not another process's folder that won the rename
            raise
    finally:
        if os.path.isdir(partial):
            shutil.rmtree(partial)
    return str(folder)
