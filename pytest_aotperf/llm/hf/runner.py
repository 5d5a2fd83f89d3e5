"""The runner behind `aot_llm` on eager, inductor and cudagraph: greedy generation, timed and recorded as on vllm."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping

from ..metrics import BuildParts, Part, record_build
from ..runner import GenerationRequest, Runner, TimedBatch
from .engine import HfEngine
from .generation import Clock, TimedRun, generate_greedy
from .programs import BuildCost, graph_statistics

if TYPE_CHECKING:
    from ...recorder import PerfRecorder

NO_COMPILE = "the eager backend compiles nothing"
NO_GRAPHS = "the {mode} backend captures no CUDA graphs"


class HfRunner(Runner):
    """Generates greedily with one backend's `transformers` model; records the metrics the vllm runner records."""

    def __init__(
        self, engine: HfEngine, recorder: PerfRecorder, built_now: bool, clock: Clock = time.perf_counter
    ) -> None:
        super().__init__(recorder)
        self._engine = engine
        self._model_built_now = built_now
        self._clock = clock

    @property
    def model(self) -> Any:
        """The `transformers` model itself, for what the runner does not cover."""
        return self._engine.model

    @property
    def effective_config(self) -> Mapping[str, Any]:
        return self._engine.effective_config

    def _prepare(self, request: GenerationRequest) -> Callable[[], TimedBatch]:
        """This shape's steps, built here if no earlier call built them (recording what building cost)."""
        import torch

        engine = self._engine
        if not request.greedy:
            raise ValueError(f"the {engine.mode} backend decodes greedily only (greedy=True)")
        program, built_now = engine.program(request.batch_size, request.prompt_len, request.output_len)
        record_shape_build(self._recorder, engine, program.cost, self._model_built_now, built_now)
        ids = request.prompt_ids(engine.spec.vocab_size)
        prompt = torch.tensor(ids, dtype=torch.long, device=engine.device)

        def run() -> TimedRun:
            with torch.no_grad():
                return generate_greedy(
                    program.prefill, program.decode, prompt, request.output_len, self._clock, engine.synchronize
                )

        return run

    def _generated(self, request: GenerationRequest) -> None:
        """The decode graphs' replays, padded and ungraphed calls so far, in the test's configuration."""
        program, _ = self._engine.program(request.batch_size, request.prompt_len, request.output_len)
        graphs = graph_statistics(program)
        if graphs:
            self._recorder.note_decode_graphs(graphs)


def record_shape_build(
    recorder: PerfRecorder, engine: HfEngine, cost: BuildCost, model_built_now: bool, built_now: bool
) -> None:
    """Model build, compile (cold or warm Inductor cache), CUDA-graph capture and graph memory, as on vllm.

    `engine_build_*_s` is the whole build of this shape (model, compile, capture), vLLM's engine build's
    counterpart; each part is recorded too.
    """
    recorder.record("model_build_s", engine.build_s, unit="s", kind="duration", built_in_this_test=model_built_now)
    parts: Dict[str, float] = {"model_build_s": engine.build_s}
    if cost.compile_s is None:
        compile_part = Part(unavailable=NO_COMPILE)
    else:
        parts["compile_s"] = cost.compile_s
        source = "first prefill and decode calls of torch.compile'd steps"
        compile_part = Part(cost.compile_s, context={"built_in_this_test": built_now, "source": source})
    if cost.capture is None:
        capture = graph_memory = Part(unavailable=NO_GRAPHS.format(mode=engine.mode))
    else:
        parts["cudagraph_capture_s"] = cost.capture.seconds
        capture = Part(cost.capture.seconds, context={"built_in_this_test": built_now})
        graph_memory = Part(cost.capture.memory_bytes, context={"source": "graph pool growth"})
    context = {
        "built_in_this_test": built_now,
        "parts": ", ".join(parts),
        **{key: repr(value) for key, value in cost.details.items()},
    }
    whole = Part(sum(parts.values()), context=context)
    record_build(recorder, BuildParts(cost.compile_cache, whole, compile_part, capture, graph_memory, summed=True))
