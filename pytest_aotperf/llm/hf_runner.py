"""The runner behind `aot_llm` on eager, inductor and cudagraph: greedy generation, timed and recorded as on vllm."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Mapping

from .generation import Clock, TimedRun, generate_greedy
from .hf_engine import HfEngine
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
from .programs import BuildCost, Program, graph_statistics

NO_COMPILE = "the eager backend compiles nothing"
NO_GRAPHS = "the {mode} backend captures no CUDA graphs"


class HfLlmRunner:
    """Generates with one backend's `transformers` model; records the metrics the vllm runner records."""

    def __init__(self, engine: HfEngine, recorder: Any, built_now: bool, clock: Clock = time.perf_counter) -> None:
        self._engine = engine
        self._recorder = recorder
        self._model_built_now = built_now
        self._clock = clock
        self.program: Program | None = None
        """The steps the last `generate` ran (its graphs' statistics, for instance)."""

    @property
    def model(self) -> Any:
        """The `transformers` model itself, for what the runner does not cover."""
        return self._engine.model

    @property
    def effective_config(self) -> Mapping[str, Any]:
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
        greedy: bool = True,
    ) -> Generation:
        """Greedily generate `output_len` tokens for `batch_size` prompts of `prompt_len` token ids (the vllm
        runner's prompts), building this shape's steps first if no earlier call did; records latency, ttft,
        tpot, output_tokens_per_s and what building cost."""
        import torch

        check_generate_arguments(batch_size, prompt_len, output_len, warmup, iterations)
        if not greedy:
            raise ValueError(f"the {self._engine.mode} backend decodes greedily only (greedy=True)")
        engine = self._engine
        program, built_now = engine.program(batch_size, prompt_len, output_len)
        self.program = program
        record_build(self._recorder, engine, program.cost, self._model_built_now, built_now)
        ids = prompt_token_ids(engine.spec.vocab_size, batch_size, prompt_len, seed)
        prompt = torch.tensor(ids, dtype=torch.long, device=engine.device)

        def run() -> TimedRun:
            return generate_greedy(program.prefill, program.decode, prompt, output_len, self._clock, engine.synchronize)

        with torch.no_grad():
            for _ in range(warmup):
                run()
            runs = iterate_until_tight(run, iterations, max_iterations, _latency_and_tpot, self._recorder)
        generation = generation_of(runs)
        shape = {"batch_size": batch_size, "prompt_len": prompt_len, "output_len": output_len}
        record_generation(self._recorder, generation, shape)
        graphs = graph_statistics(program)
        if graphs:
            self._recorder.config.setdefault("llm", {})["decode_graphs"] = graphs
        return generation


def _latency_and_tpot(runs: List[TimedRun]) -> List[List[float]]:
    return [[run.latency_s for run in runs], [run.tpot_s for run in runs if run.tpot_s is not None]]


def generation_of(runs: List[TimedRun]) -> Generation:
    """The samples of timed runs: one per run (every request of a static batch has the same ttft and tpot)."""
    tpots = [run.tpot_s for run in runs if run.tpot_s is not None]
    return Generation(
        latency_s=tuple(run.latency_s for run in runs),
        ttft_s=tuple(run.ttft_s for run in runs),
        tpot_s=tuple(tpots),
        output_tokens_per_s=tuple(run.tokens.numel() / run.latency_s for run in runs),
        token_ids=tuple(tuple(row) for row in runs[-1].tokens.tolist()),
    )


def record_build(recorder: Any, engine: HfEngine, cost: BuildCost, model_built_now: bool, built_now: bool) -> None:
    """Model build, compile (cold or warm Inductor cache), CUDA-graph capture and graph memory, as on vllm.

    `engine_build_*_s` is the whole build of this shape (model, compile, capture), vLLM's engine build's
    counterpart; each part is recorded too.
    """
    record: Callable[..., Any] = recorder.record
    parts: Dict[str, float] = {"model_build_s": engine.build_s}
    record("model_build_s", engine.build_s, unit="s", kind="duration", built_in_this_test=model_built_now)
    if cost.compile_s is None:
        recorder.record_unavailable("compile_s", NO_COMPILE, unit="s", kind="duration")
    else:
        parts["compile_s"] = cost.compile_s
        record(
            cache_metric("compile", cost.compile_cache),
            cost.compile_s,
            unit="s",
            kind="duration",
            compile_cache=cost.compile_cache,
            built_in_this_test=built_now,
            source="first prefill and decode calls of torch.compile'd steps",
        )
    if cost.capture is None:
        record_unavailable_graphs(recorder, NO_GRAPHS.format(mode=engine.mode))
    else:
        parts["cudagraph_capture_s"] = cost.capture.seconds
        record("cudagraph_capture_s", cost.capture.seconds, unit="s", kind="duration", built_in_this_test=built_now)
        record("cudagraph_memory", cost.capture.memory_bytes, unit="B", kind="memory", source="graph pool growth")
    record(
        cache_metric("engine_build", cost.compile_cache),
        sum(parts.values()),
        unit="s",
        kind="duration",
        compile_cache=cost.compile_cache,
        built_in_this_test=built_now,
        parts=", ".join(parts),
        **{key: repr(value) for key, value in cost.details.items()},
    )
