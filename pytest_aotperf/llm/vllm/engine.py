"""Build and tear down vLLM engines, and what their start cost."""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from .. import hf_model
from ..metrics import GraphCapture
from ..specs import ModelSpec, resolve_model
from . import buildlog
from .logtap import ChildOutputTap
from .options import EngineOptions, OptionError, engine_options, installed_release


class EngineStartError(RuntimeError):
    """vLLM could not start an engine; the message carries vLLM's own cause."""


@dataclass(frozen=True)
class BuildReport:
    """What starting the engine cost, as measured here and as vLLM reported it."""

    build_s: float
    worker: Mapping[str, Any]
    """The worker's own figures (see llm/probe.py, WorkerProbe.aotperf_report)."""
    graph_capture: Optional[GraphCapture]
    compile_cache_log: Tuple[str, ...] = ()
    """vLLM's lines on its compile cache: loaded (a warm build), saved (a cold one) or failed to load."""


class Engine:
    """A running `vllm.LLM`, its model, its build report and the configuration it runs with."""

    weights_dir: Optional[str]
    """The folder of seeded weights the engine loaded (kept with vLLM's compile cache), or None."""

    def __init__(
        self,
        llm: Any,
        spec: ModelSpec,
        report: BuildReport,
        effective_config: Mapping[str, Any],
        weights_dir: Optional[str] = None,
    ) -> None:
        self.llm = llm
        self.spec = spec
        self.report = report
        self.effective_config = effective_config
        self.weights_dir = weights_dir

    def shutdown(self) -> None:
        """Stop the engine core (its child processes exit and give their memory back)."""
        if self.llm is not None:
            self.llm.llm_engine.engine_core.shutdown()
            self.llm = None
            gc.collect()


def seeded_weights(spec: ModelSpec, options: Mapping[str, Any], device: str) -> Tuple[Dict[str, Any], Optional[str]]:
    """The engine options for `weights` ("dummy": vLLM's random weights; "seeded": the other backends' weights,
    saved once beside vLLM's compile cache, which owns them like its compiled graphs), and that folder."""
    weights = options.get("weights", "dummy")
    rest = {key: value for key, value in options.items() if key != "weights"}
    if weights == "dummy":
        return rest, None
    if weights != "seeded":
        raise OptionError(f"weights={weights!r}: give 'dummy' (vLLM's random weights) or 'seeded'")
    if rest.get("load_format", "safetensors") != "safetensors":
        raise OptionError(f"weights='seeded' loads safetensors; load_format={rest['load_format']!r} contradicts it")
    import vllm.envs

    dtype = hf_model.resolve_dtype(spec, device, rest.get("dtype"))
    # The variable first: vllm.envs may cache its values once an engine ran in this process.
    cache_root = os.environ.get("VLLM_CACHE_ROOT") or vllm.envs.VLLM_CACHE_ROOT
    folder = hf_model.seeded_folder(spec, dtype, device, cache_root)
    return {**rest, "load_format": "safetensors", "dtype": dtype}, folder


def build_engine(model: str, options: Mapping[str, Any], device: str) -> Engine:
    """Start an engine for `model` with `options`; raise EngineStartError with vLLM's cause if it fails.

    `weights="seeded"` gives vLLM the weights the eager, inductor and cudagraph backends build.
    """
    spec = resolve_model(model)
    release = installed_release()
    vllm_options, weights_dir = seeded_weights(spec, options, device)
    resolved = engine_options(vllm_options, release, model_path=weights_dir or spec.path, device=device)
    from vllm import LLM

    tap = ChildOutputTap()
    start = time.perf_counter()
    try:
        with tap:
            llm = LLM(**resolved.kwargs)
    except Exception as error:
        gc.collect()
        cause = buildlog.failure_cause(tap.lines())
        reported = f"; the engine reported: {cause}" if cause and cause not in str(error) else ""
        raise EngineStartError(
            f"vLLM {release.version} could not start an engine for {model!r}: {type(error).__name__}: {error}{reported}"
        ) from error
    build_s = time.perf_counter() - start
    worker = llm.collective_rpc("aotperf_report")[0]
    lines = tap.lines()
    report = BuildReport(build_s, worker, buildlog.graph_capture(lines), buildlog.compile_cache_log(lines))
    config = effective_config(release.version, device, resolved, worker)
    return Engine(llm, spec, report, config, weights_dir)


def effective_config(version: str, device: str, options: EngineOptions, worker: Mapping[str, Any]) -> Dict[str, Any]:
    """The configuration a baseline stores: the options passed to vllm.LLM and what vLLM made of them."""
    return {
        "vllm_version": version,
        "device": device,
        "llm_kwargs": json.loads(json.dumps(dict(options.kwargs), sort_keys=True, default=repr)),
        "renamed_options": [list(pair) for pair in options.renamed],
        "compilation_mode": worker["compilation_mode"],
        "cudagraph_mode": worker["cudagraph_mode"],
        "cudagraph_capture_sizes": worker["cudagraph_capture_sizes"],
    }
