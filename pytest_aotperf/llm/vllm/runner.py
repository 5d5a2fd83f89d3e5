"""The runner behind `aot_llm` on the vllm backend: generation on a vLLM engine, timed and recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Tuple

from ..metrics import BuildParts, Part, TokenIds, record_build
from ..runner import GenerationRequest, Runner, TimedBatch
from .engine import Engine

if TYPE_CHECKING:
    from ...recorder import PerfRecorder

CPU_NO_GRAPHS = "vLLM on CPU captures no CUDA graphs"
NO_REQUEST_STATS = "vLLM returned no per-request metrics (RequestOutput.metrics is None)"


class VllmRunner(Runner):
    """Generates with one engine, as vLLM's latency benchmark does (prompt ids below 10000, sampling at
    temperature 1 unless `greedy`), and records what it measures on the test's recorder."""

    greedy_by_default = False
    no_request_stats = NO_REQUEST_STATS

    def __init__(self, engine: Engine, recorder: PerfRecorder, built_now: bool) -> None:
        super().__init__(recorder)
        self._engine = engine
        record_engine_build(recorder, engine, built_now)

    @property
    def llm(self) -> Any:
        """The `vllm.LLM` itself, for what the runner does not cover."""
        return self._engine.llm

    @property
    def effective_config(self) -> Mapping[str, Any]:
        """The options passed to vllm.LLM (compilation_config included) and what vLLM made of them."""
        return self._engine.effective_config

    def _prepare(self, request: GenerationRequest) -> Callable[[], TimedBatch]:
        from vllm import SamplingParams, TokensPrompt

        max_model_len = self.llm.llm_engine.model_config.max_model_len
        if request.prompt_len + request.output_len > max_model_len:
            raise ValueError(
                f"prompt_len + output_len = {request.prompt_len + request.output_len} exceeds the engine's "
                f"max_model_len {max_model_len}"
            )
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in request.prompt_ids(self._engine.spec.vocab_size)]
        params = SamplingParams(
            n=1,
            temperature=0.0 if request.greedy else 1.0,
            top_p=1.0,
            ignore_eos=True,
            max_tokens=request.output_len,
            detokenize=False,
        )

        def run() -> VllmBatch:
            start = time.perf_counter()
            outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
            return VllmBatch(time.perf_counter() - start, outputs)

        return run


@dataclass(frozen=True)
class VllmBatch:
    """One timed `LLM.generate` of the batch, with vLLM's per-request metrics."""

    latency_s: float
    outputs: Sequence[Any]
    """vLLM's RequestOutputs, one per request."""

    @property
    def output_tokens(self) -> int:
        return sum(len(output.outputs[0].token_ids) for output in self.outputs)

    def ttfts(self) -> Tuple[float, ...]:
        timings = (request_timings(output.metrics) for output in self.outputs)
        return tuple(ttft for ttft, _ in timings if ttft is not None)

    def tpots(self) -> Tuple[float, ...]:
        timings = (request_timings(output.metrics) for output in self.outputs)
        return tuple(tpot for _, tpot in timings if tpot is not None)

    def token_ids(self) -> TokenIds:
        return tuple(tuple(output.outputs[0].token_ids) for output in self.outputs)


def request_timings(stats: Any) -> Tuple[Optional[float], Optional[float]]:
    """(time to first token, time per output token after the first) from a RequestStateStats."""
    if stats is None:
        return None, None
    ttft = stats.first_token_latency
    decoded = stats.num_generation_tokens - 1
    tpot = (stats.last_token_ts - stats.first_token_ts) / decoded if decoded > 0 else None
    return ttft, tpot


def compile_cache_state(counters: Mapping[str, int]) -> str:
    """ "warm" when vLLM loaded compiled artifacts from its cache, "cold" when it compiled, else "none"."""
    if counters["num_compiled_artifacts_loaded"] or counters["num_aot_artifacts_loaded"]:
        return "warm"
    if counters["num_backend_compilations"] or counters["num_inductor_compiles"] or counters["num_aot_compiles"]:
        return "cold"
    return "none"


def record_engine_build(recorder: PerfRecorder, engine: Engine, built_now: bool) -> None:
    """Engine build time, compilation, CUDA-graph capture and the worker's GPU memory peaks."""
    report = engine.report
    worker = report.worker
    cache = compile_cache_state(worker["counters"])
    compiled_s = worker["compilation_time_s"]
    if compiled_s > 0:
        compile_part = Part(compiled_s, context={"source": "vllm compilation_config.compilation_time"})
    else:
        compile_part = Part(unavailable=compile_unavailable_reason(worker, cache))
    capture = report.graph_capture
    if capture is None:
        capture_part = graph_memory = Part(unavailable=no_graphs_reason(worker))
    else:
        capture_part = Part(capture.seconds, context={"source": "vllm log (whole seconds)"})
        graph_memory = Part(capture.memory_bytes, context={"source": "vllm log"})
    whole = Part(
        report.build_s, context={"built_in_this_test": built_now, "compile_cache_log": report.compile_cache_log}
    )
    record_build(recorder, BuildParts(cache, whole, compile_part, capture_part, graph_memory))
    if worker["cuda"]:
        for name, key in (("gpu_peak_allocated", "torch_peak_allocated"), ("gpu_peak_reserved", "torch_peak_reserved")):
            recorder.record(name, worker[key], unit="B", kind="memory", source="torch in the vLLM worker process")
    else:
        for name in ("gpu_peak_allocated", "gpu_peak_reserved"):
            recorder.record_unavailable(name, "vLLM ran on CPU: no GPU memory", unit="B", kind="memory")


def no_graphs_reason(worker: Mapping[str, Any]) -> str:
    if not worker["cuda"]:
        return CPU_NO_GRAPHS
    if worker["cudagraph_mode"] == "NONE":
        return "CUDA graphs are off (cudagraph_mode NONE)"
    return "vLLM logged no 'Graph capturing finished' line"


def compile_unavailable_reason(worker: Mapping[str, Any], cache: str) -> str:
    if worker["compilation_mode"] == "NONE":
        return "compilation is off (compilation mode NONE, e.g. enforce_eager=True)"
    if not worker["cuda"]:
        return (
            f"vLLM's CPU backend does not report compilation time (compilation_config.compilation_time "
            f"stays 0; compile cache {cache})"
        )
    return f"vLLM reported no compilation time (compile cache {cache})"
