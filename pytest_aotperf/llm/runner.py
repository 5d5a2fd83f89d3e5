"""The runner behind `aot_llm`: generation on a vLLM engine, timed and recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from .engine import Engine

if TYPE_CHECKING:
    from ..recorder import PerfRecorder

BENCH_PROMPT_ID_LIMIT = 10000
"""vLLM's latency benchmark draws prompt ids below 10000; so do we (below the vocabulary if smaller)."""
CPU_NO_GRAPHS = "vLLM on CPU captures no CUDA graphs"


@dataclass(frozen=True)
class Generation:
    """The samples of one `generate` call: per iteration (latency, tokens/s) or per request (ttft, tpot)."""

    latency_s: Tuple[float, ...]
    ttft_s: Tuple[float, ...]
    tpot_s: Tuple[float, ...]
    output_tokens_per_s: Tuple[float, ...]


class LlmRunner:
    """Generates with one engine and records what it measures on the test's recorder."""

    def __init__(self, engine: Engine, recorder: PerfRecorder, built_now: bool) -> None:
        self._engine = engine
        self._recorder = recorder
        record_build(recorder, engine, built_now)

    @property
    def llm(self) -> Any:
        """The `vllm.LLM` itself, for what the runner does not cover."""
        return self._engine.llm

    @property
    def effective_config(self) -> Mapping[str, Any]:
        """The options passed to vllm.LLM (compilation_config included) and what vLLM made of them."""
        return self._engine.effective_config

    def generate(
        self,
        batch_size: int,
        prompt_len: int = 32,
        output_len: int = 128,
        *,
        warmup: int = 3,
        iterations: int = 10,
        seed: int = 0,
    ) -> Generation:
        """Generate `output_len` tokens for `batch_size` prompts of `prompt_len` token ids, as vLLM's
        latency benchmark does (same sampling, ids below 10000), and record the metrics:
        latency (end to end per batch), ttft, tpot, output_tokens_per_s."""
        import numpy as np
        from vllm import SamplingParams, TokensPrompt

        if min(batch_size, prompt_len, output_len, iterations) < 1 or warmup < 0:
            raise ValueError("batch_size, prompt_len, output_len and iterations must be at least 1, warmup at least 0")
        max_model_len = self.llm.llm_engine.model_config.max_model_len
        if prompt_len + output_len > max_model_len:
            raise ValueError(
                f"prompt_len + output_len = {prompt_len + output_len} exceeds the engine's "
                f"max_model_len {max_model_len}"
            )
        id_limit = min(BENCH_PROMPT_ID_LIMIT, self._engine.spec.vocab_size)
        token_ids = np.random.default_rng(seed).integers(id_limit, size=(batch_size, prompt_len)).tolist()
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in token_ids]
        params = SamplingParams(
            n=1, temperature=1.0, top_p=1.0, ignore_eos=True, max_tokens=output_len, detokenize=False
        )
        for _ in range(warmup):
            self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
        latencies: List[float] = []
        ttfts: List[float] = []
        tpots: List[float] = []
        throughputs: List[float] = []
        for _ in range(iterations):
            start = time.perf_counter()
            outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
            latency = time.perf_counter() - start
            latencies.append(latency)
            throughputs.append(sum(len(o.outputs[0].token_ids) for o in outputs) / latency)
            for output in outputs:
                ttft, tpot = request_timings(output.metrics)
                ttfts.extend([ttft] if ttft is not None else [])
                tpots.extend([tpot] if tpot is not None else [])
        self._record(
            latencies,
            ttfts,
            tpots,
            throughputs,
            output_len,
            {"batch_size": batch_size, "prompt_len": prompt_len, "output_len": output_len},
        )
        return Generation(tuple(latencies), tuple(ttfts), tuple(tpots), tuple(throughputs))

    def _record(
        self,
        latencies: List[float],
        ttfts: List[float],
        tpots: List[float],
        throughputs: List[float],
        output_len: int,
        shape: Dict[str, int],
    ) -> None:
        recorder = self._recorder
        recorder.record_samples("latency", latencies, unit="s", context=shape)
        recorder.record_samples(
            "output_tokens_per_s", throughputs, unit="tokens/s", better="higher", kind="value", context=shape
        )
        no_stats = "vLLM returned no per-request metrics (RequestOutput.metrics is None)"
        if ttfts:
            recorder.record_samples("ttft", ttfts, unit="s", context=shape)
        else:
            recorder.record_unavailable("ttft", no_stats, unit="s", kind="timing")
        if tpots:
            recorder.record_samples("tpot", tpots, unit="s", context=shape)
        else:
            recorder.record_unavailable(
                "tpot", no_stats if output_len > 1 else "output_len 1 has no decode step", unit="s", kind="timing"
            )


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


def cache_metric(stem: str, cache: str) -> str:
    """`engine_build_cold_s`, `compile_warm_s`, ...: a cold build is only ever compared with a cold one."""
    return f"{stem}_{cache}_s" if cache != "none" else f"{stem}_s"


def without_cache_state(name: str) -> str:
    """`engine_build_cold_s` -> `engine_build_s`: the metric whatever the compile cache was."""
    return name.replace("_cold_s", "_s").replace("_warm_s", "_s")


def record_build(recorder: PerfRecorder, engine: Engine, built_now: bool) -> None:
    """Engine build time, compilation, CUDA-graph capture and the worker's GPU memory peaks."""
    report = engine.report
    worker = report.worker
    cache = compile_cache_state(worker["counters"])
    recorder.record(
        cache_metric("engine_build", cache),
        report.build_s,
        unit="s",
        kind="duration",
        compile_cache=cache,
        built_in_this_test=built_now,
    )
    if worker["compilation_time_s"] > 0:
        recorder.record(
            cache_metric("compile", cache),
            worker["compilation_time_s"],
            unit="s",
            kind="duration",
            compile_cache=cache,
            source="vllm compilation_config.compilation_time",
        )
    else:
        recorder.record_unavailable("compile_s", compile_unavailable_reason(worker, cache), unit="s", kind="duration")
    capture = report.graph_capture
    if capture is not None:
        recorder.record(
            "cudagraph_capture_s", capture.seconds, unit="s", kind="duration", source="vllm log (whole seconds)"
        )
        recorder.record("cudagraph_memory", capture.memory_bytes, unit="B", kind="memory", source="vllm log")
    else:
        reason = (
            CPU_NO_GRAPHS
            if not worker["cuda"]
            else "CUDA graphs are off (cudagraph_mode NONE)"
            if worker["cudagraph_mode"] == "NONE"
            else "vLLM logged no 'Graph capturing finished' line"
        )
        recorder.record_unavailable("cudagraph_capture_s", reason, unit="s", kind="duration")
        recorder.record_unavailable("cudagraph_memory", reason, unit="B", kind="memory")
    if worker["cuda"]:
        for name, key in (("gpu_peak_allocated", "torch_peak_allocated"), ("gpu_peak_reserved", "torch_peak_reserved")):
            recorder.record(name, worker[key], unit="B", kind="memory", source="torch in the vLLM worker process")
    else:
        for name in ("gpu_peak_allocated", "gpu_peak_reserved"):
            recorder.record_unavailable(name, "vLLM ran on CPU: no GPU memory", unit="B", kind="memory")


def compile_unavailable_reason(worker: Mapping[str, Any], cache: str) -> str:
    if worker["compilation_mode"] == "NONE":
        return "compilation is off (compilation mode NONE, e.g. enforce_eager=True)"
    if not worker["cuda"]:
        return (
            f"vLLM's CPU backend does not report compilation time (compilation_config.compilation_time "
            f"stays 0; compile cache {cache})"
        )
    return f"vLLM reported no compilation time (compile cache {cache})"
