"""`eager`: the module as it is, the reference every compiled backend is compared with."""

from __future__ import annotations

from .base import CompiledModel, CompileStats
from .hf_llm import HfLlmBackend


class EagerBackend(HfLlmBackend):
    name = "eager"
    slow_compile = False

    def compile(self, module, example_inputs, batch_sizes, **options):
        if options:
            raise TypeError(f"the eager backend takes no compile options, got {sorted(options)}")
        return CompiledModel(module, CompileStats(details={"backend": "eager"}), module=module)
