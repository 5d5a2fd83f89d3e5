"""A vLLM worker extension that reports the worker's own compile and memory figures.

vLLM mixes it into its worker (`worker_extension_cls`); `llm.collective_rpc("aotperf_report")` then
runs it in the worker process, where compilation and the model's GPU memory live. It stays here, beside
llm/vllm/: its import path is part of every vllm baseline's stored configuration (`llm_kwargs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

if TYPE_CHECKING:
    from vllm.config import VllmConfig


class WorkerProbe:
    vllm_config: VllmConfig
    """The worker's configuration: an attribute of the vLLM worker this class is mixed into."""

    def aotperf_report(self) -> Dict[str, Any]:
        """Compilation time, compile-cache counters and torch's memory peaks, read in the worker."""
        import torch
        from vllm.compilation.counter import compilation_counter

        compilation = self.vllm_config.compilation_config
        report: Dict[str, Any] = {
            "compilation_time_s": float(compilation.compilation_time),
            "compilation_mode": str(getattr(compilation.mode, "name", compilation.mode)),
            "cudagraph_mode": str(getattr(compilation.cudagraph_mode, "name", compilation.cudagraph_mode)),
            "cudagraph_capture_sizes": list(compilation.cudagraph_capture_sizes or []),
            "counters": {
                name: int(getattr(compilation_counter, name))
                for name in (
                    "num_backend_compilations",
                    "num_inductor_compiles",
                    "num_aot_compiles",
                    "num_compiled_artifacts_loaded",
                    "num_aot_artifacts_loaded",
                    "num_cudagraph_captured",
                )
            },
            "cuda": torch.cuda.is_available(),
        }
        if report["cuda"]:
            report["torch_peak_allocated"] = int(torch.cuda.max_memory_allocated())
            report["torch_peak_reserved"] = int(torch.cuda.max_memory_reserved())
        return report
