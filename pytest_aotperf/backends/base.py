"""The one small interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

from ..compiled import CompiledModel
from ..memory_monitor import MemoryMonitor

if TYPE_CHECKING:
    from ..llm.runner import Runner
    from ..recorder import PerfRecorder


class BackendUnsupported(Exception):
    """The backend cannot do what the test asks (the test is skipped with this reason)."""


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
        from ..graphs.inputs import batch_size_of

        return (batch_size_of(example_inputs),)

    @abstractmethod
    def compile(
        self, module: Any, example_inputs: Sequence[Any], batch_sizes: Sequence[int], **options: Any
    ) -> CompiledModel:
        """Compile `module` for `example_inputs` and every batch size in `batch_sizes`."""

    def llm(self, model: str, recorder: PerfRecorder, **options: Any) -> Runner:
        """An LLM runner for `model` (the vllm backend, and the module compilers through `TorchModuleBackend`)."""
        raise BackendUnsupported(f"aot_llm is not supported by the {self.name!r} backend")

    def monitor(self) -> MemoryMonitor:
        """A memory monitor for this backend's device (an LLM engine's build is read with one)."""
        return MemoryMonitor(use_cuda=self.device.startswith("cuda"))

    def warm_up(self) -> None:
        """Pay the process's one-time costs before any test measures its memory: libraries and kernels
        loaded on first use, the compile stack imported, the profiler that counts host work started.
        A small model of common layers is compiled, called and its host work counted; so the first test
        of a process reads as one after others does.
        """
        import torch

        from ..measure.host_work import count_host_work
        from .warm import warm_up_model

        module, inputs = warm_up_model(self.device)
        try:
            with torch.no_grad():
                model = self.compile(module, inputs, (inputs[0].shape[0],))
                for _ in range(3):
                    model(*inputs)
                count_host_work(lambda: model(*inputs), on_cuda=self.device.startswith("cuda"))
        except BackendUnsupported:
            return  # it compiles no modules (vllm): nothing to warm

    def close(self) -> None:
        """Release what the backend holds at the end of the session."""
