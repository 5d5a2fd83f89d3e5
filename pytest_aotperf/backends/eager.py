"""`eager`: the module as it is, the reference every compiled backend is compared with."""

from __future__ import annotations

from typing import Any, Sequence

from ..compiled import CompiledModel, CompileStats
from .torch_module import TorchModuleBackend


class EagerBackend(TorchModuleBackend):
    name = "eager"
    slow_compile = False

    def compile(
        self, module: Any, example_inputs: Sequence[Any], batch_sizes: Sequence[int], **options: Any
    ) -> CompiledModel:
        if options:
            raise TypeError(f"the eager backend takes no compile options, got {sorted(options)}")
        return CompiledModel(module, CompileStats(details={"backend": "eager"}))
