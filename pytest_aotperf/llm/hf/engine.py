"""LLMs on the eager, inductor and cudagraph backends: the seeded `transformers` model and its built shapes."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Tuple

from .. import hf_model
from ..specs import ModelSpec, resolve_model
from .merged import merge_projections
from .programs import Program, Shape, build_program, cache_length
from .static_cache import ARGMAX_CHUNK

DEFAULT_CAPTURE_SIZES = (1, 2, 4, 8, 16)
"""Batch sizes the cudagraph backend captures decode graphs at; a batch between two is padded up."""
MODE_OPTIONS = {
    "eager": ("dtype",),
    "inductor": ("dtype", "mode", "options", "merge_projections", "split_argmax"),
    "cudagraph": ("dtype", "mode", "options", "batch_sizes", "merge_projections", "split_argmax"),
}
"""What aot_llm takes on each backend: `dtype`; torch.compile's `mode` and Inductor `options`; capture sizes;
`merge_projections=True` (q/k/v and gate/up as one GEMM each, as vLLM runs Llama; see `merged`);
`split_argmax=True` (the greedy argmax in two stages; see `static_cache.greedy_tokens`)."""


@dataclass(frozen=True)
class HfOptions:
    """A test's options, checked: the dtype, the decode graphs' capture sizes, torch.compile's arguments."""

    dtype: str
    capture_sizes: Tuple[int, ...] = ()
    compile_kwargs: Mapping[str, Any] = field(default_factory=dict)
    merge_projections: bool = False
    split_argmax: bool = False


def hf_options(mode: str, spec: ModelSpec, device: str, options: Mapping[str, Any]) -> HfOptions:
    """Check `options` for backend `mode`; unknown ones are a TypeError that lists what the backend takes."""
    accepted = MODE_OPTIONS[mode]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"aot_llm on the {mode} backend takes {', '.join(accepted)}; got {', '.join(map(repr, unknown))} "
            "(vLLM engine options apply to the vllm backend only)"
        )
    dtype = hf_model.resolve_dtype(spec, device, options.get("dtype"))
    if mode == "eager":
        return HfOptions(dtype)
    switches = {name: options.get(name, False) for name in ("merge_projections", "split_argmax")}
    for name, value in switches.items():
        if not isinstance(value, bool):
            raise TypeError(f"aot_llm's {name} takes True or False, not {value!r}")
    inductor_options = dict(options.get("options") or {})
    if mode == "inductor":
        kwargs: Dict[str, Any] = {"mode": options.get("mode"), "options": inductor_options or None}
        compile_kwargs = {key: value for key, value in kwargs.items() if value is not None}
        return HfOptions(dtype, compile_kwargs=compile_kwargs, **switches)
    from ...graphs.capture import check_batch_sizes, compile_kwargs_without_cudagraphs

    sizes = check_batch_sizes(options.get("batch_sizes"), DEFAULT_CAPTURE_SIZES)
    compile_kwargs = compile_kwargs_without_cudagraphs(options.get("mode"), inductor_options)
    return HfOptions(dtype, sizes, compile_kwargs, **switches)


class HfEngine:
    """The model of one spec on one backend, with the steps built so far per shape (reused by later tests)."""

    def __init__(self, mode: str, spec: ModelSpec, options: HfOptions, device: str, model: Any, build_s: float):
        self.mode = mode
        self.spec = spec
        self.options = options
        self.device = device
        self.model = model
        self.build_s = build_s
        self._programs: Dict[Shape, Program] = {}

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def program(self, batch: int, prompt_len: int, output_len: int) -> Tuple[Program, bool]:
        """The steps for this generation shape, and whether this call built them."""
        limit = self.spec.max_position_embeddings
        if limit and prompt_len + output_len > limit:
            raise ValueError(
                f"prompt_len + output_len = {prompt_len + output_len} exceeds {self.spec.name}'s "
                f"max_position_embeddings {limit}"
            )
        shape = Shape(batch, prompt_len, cache_length(prompt_len, output_len))
        if shape in self._programs:
            return self._programs[shape], False
        program = build_program(
            self.model,
            self.mode,
            shape,
            capture_sizes=self.options.capture_sizes,
            compile_kwargs=self.options.compile_kwargs,
            split_argmax=self.options.split_argmax,
            synchronize=self.synchronize,
        )
        self._programs[shape] = program
        return program, True

    @property
    def effective_config(self) -> Dict[str, Any]:
        """What a baseline stores: the model, the backend's way of running it, versions."""
        import torch
        import transformers

        merged = {"projections": "merged: qkv_proj, gate_up_proj"} if self.options.merge_projections else {}
        split = {"argmax": f"split: blocks of {ARGMAX_CHUNK}, then their maxima"} if self.options.split_argmax else {}
        return {
            **merged,
            **split,
            "implementation": "transformers",
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "backend": self.mode,
            "model": self.spec.name,
            "device": self.device,
            "dtype": self.options.dtype,
            "weights": f"random, seed {hf_model.WEIGHTS_SEED}, std {hf_model.INIT_STD}",
            "decoding": "greedy, static KV cache",
            "capture_sizes": list(self.options.capture_sizes),
            "compile": {key: repr(value) for key, value in self.options.compile_kwargs.items()},
        }

    def shutdown(self) -> None:
        """Drop the model, its caches and graphs (their memory returns to the device)."""
        self.model = None
        self._programs.clear()
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def build_hf_engine(mode: str, model: str, options: Mapping[str, Any], device: str) -> HfEngine:
    """The seeded model of `model` (a spec name or config folder) for backend `mode`, options checked first."""
    spec = resolve_model(model)
    checked = hf_options(mode, spec, device, options)
    start = time.perf_counter()
    built = hf_model.build_model(spec, checked.dtype, device)
    if checked.merge_projections:
        merge_projections(built)
    return HfEngine(mode, spec, checked, device, built, time.perf_counter() - start)
