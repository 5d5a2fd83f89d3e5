"""The runner behind `aot_llm`: generation on a vLLM engine, timed and recorded."""

from __future__ import annotations

import time
from typing import Any, List, Mapping, Optional, Tuple

from .engine import Engine
from .metrics import (
    MAX_ITERATIONS,
    Generation,
    cache_metric,
    check_generate_arguments,
    iterate_until_tight,
    prompt_token_ids,
    record_generation,
    record_unavailable_graphs,
)

CPU_NO_GRAPHS = "vLLM on CPU captures no CUDA graphs"
NO_REQUEST_STATS = "vLLM returned no per-request metrics (RequestOutput.metrics is None)"


class LlmRunner:
    """Generates with one engine and records what it measures on the test's recorder."""

    def __init__(self, engine: Engine, recorder: Any, built_now: bool) -> None:
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
        max_iterations: int = MAX_ITERATIONS,
        seed: int = 0,
        greedy: bool = False,
    ) -> Generation:
        """Generate `output_len` tokens for `batch_size` prompts of `prompt_len` token ids, as vLLM's
        latency benchmark does (ids below 10000, sampling at temperature 1 unless `greedy`), and record
        the metrics: latency (end to end per batch), ttft, tpot, output_tokens_per_s."""
        from vllm import SamplingParams, TokensPrompt

        check_generate_arguments(batch_size, prompt_len, output_len, warmup, iterations)
        max_model_len = self.llm.llm_engine.model_config.max_model_len
        if prompt_len + output_len > max_model_len:
            raise ValueError(
                f"prompt_len + output_len = {prompt_len + output_len} exceeds the engine's "
                f"max_model_len {max_model_len}"
            )
        token_ids = prompt_token_ids(self._engine.spec.vocab_size, batch_size, prompt_len, seed)
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in token_ids]
        params = SamplingParams(
            n=1,
            temperature=0.0 if greedy else 1.0,
            top_p=1.0,
            ignore_eos=True,
            max_tokens=output_len,
            detokenize=False,
        )
        for _ in range(warmup):
            self.llm.generate(prompts, sampling_params=params, use_tqdm=False)

        def iterate() -> Tuple[float, List[Any]]:
            start = time.perf_counter()
            outputs = self.llm.generate(prompts, sampling_params=params, use_tqdm=False)
            return time.perf_counter() - start, outputs

        runs = iterate_until_tight(iterate, iterations, max_iterations, _latency_and_tpot, self._recorder)
        latencies = [latency for latency, _ in runs]
        throughputs = [sum(len(o.outputs[0].token_ids) for o in outputs) / latency for latency, outputs in runs]
        timings = [request_timings(output.metrics) for _, outputs in runs for output in outputs]
        ttfts = [ttft for ttft, _ in timings if ttft is not None]
        tpots = [tpot for _, tpot in timings if tpot is not None]
        outputs = runs[-1][1]
        generation = Generation(
            tuple(latencies),
            tuple(ttfts),
            tuple(tpots),
            tuple(throughputs),
            tuple(tuple(o.outputs[0].token_ids) for o in outputs),
        )
        shape = {"batch_size": batch_size, "prompt_len": prompt_len, "output_len": output_len}
        record_generation(self._recorder, generation, shape, NO_REQUEST_STATS)
        return generation


def _latency_and_tpot(runs: List[Tuple[float, List[Any]]]) -> List[List[float]]:
    timings = [request_timings(output.metrics) for _, outputs in runs for output in outputs]
    return [[latency for latency, _ in runs], [tpot for _, tpot in timings if tpot is not None]]


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


def record_build(recorder: Any, engine: Engine, built_now: bool) -> None:
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
        record_unavailable_graphs(recorder, reason)
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
