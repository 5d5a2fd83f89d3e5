"""The one small interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from ..llm.runner import LlmRunner
    from ..recorder import PerfRecorder

from ..measure.memory import MemoryMonitor
from ..metrics import Better, Kind, Metric


class BackendUnsupported(Exception):
    """The backend cannot do what the test asks (the test is skipped with this reason)."""


def stat(
    name: str, value: float, unit: str, kind: Kind = "value", better: Better = "lower", informational: bool = False
) -> Metric:
    """A compile statistic (`compile_s`, `graphs`, `capture_s`, ...) as the metric the test records."""
    return Metric(name=name, unit=unit, better=better, kind=kind, value=float(value), informational=informational)


@dataclass(frozen=True)
class CompileStats:
    """What compiling cost and produced. `metrics` are recorded on the test's recorder."""

    metrics: Tuple[Metric, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Optional[float]:
        return next((m.value for m in self.metrics if m.name == name), None)


class CompiledModel:
    """A compiled module, callable like the module, with its compile statistics."""

    def __init__(self, call: Callable[..., Any], stats: CompileStats) -> None:
        self._call = call
        self._stats = stats

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    @property
    def stats(self) -> CompileStats:
        """Statistics now (a backend with run-time counters, such as replays, adds them here)."""
        return self._stats


class Backend(ABC):
    """A way to build a compiled model. Subclasses set `name` and implement `compile`."""

    name: str = ""
    slow_compile: bool = True
    """Whether `compile` takes long enough to show progress for (eager's does not)."""
    runs_llms: bool = False
    """Whether `llm` builds LLM runners (the others raise BackendUnsupported)."""

    def unavailable_reason(self) -> Optional[str]:
        """Why this machine cannot run the backend, or None when it can."""
        return None

    @property
    def device(self) -> str:
        """The torch device string models and inputs belong on: "cuda" or "cpu"."""
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def default_batch_sizes(self, example_inputs: Sequence[Any]) -> Tuple[int, ...]:
        """Batch sizes to compile for when the test names none: the example's own."""
        from .inputs import batch_size_of

        return (batch_size_of(example_inputs),)

    @abstractmethod
    def compile(
        self, module: Any, example_inputs: Sequence[Any], batch_sizes: Sequence[int], **options: Any
    ) -> CompiledModel:
        """Compile `module` for `example_inputs` and every batch size in `batch_sizes`."""

    def llm(self, model: str, recorder: PerfRecorder, **options: Any) -> LlmRunner:
        """An LLM runner for `model` (the vllm backend, and the module compilers through `HfLlmBackend`)."""
        raise BackendUnsupported(f"aot_llm is not supported by the {self.name!r} backend")

    def monitor(self) -> MemoryMonitor:
        """A memory monitor for this backend's device (an LLM engine's build is read with one)."""
        return MemoryMonitor(use_cuda=self.device.startswith("cuda"))

    def warm_up(self) -> None:
        """Pay the process's one-time costs before any test measures its memory: libraries and kernels
        loaded on first use, the compile stack imported. A small model of common layers is compiled
        and called; so the first test of a process reads as one after others does.
        """
        import torch

        from .warm import warm_up_model

        module, inputs = warm_up_model(self.device)
        try:
            with torch.no_grad():
                model = self.compile(module, inputs, (inputs[0].shape[0],))
                for _ in range(3):
                    model(*inputs)
        except BackendUnsupported:
            return  # it compiles no modules (vllm): nothing to warm

    def close(self) -> None:
        """Release what the backend holds at the end of the session."""
