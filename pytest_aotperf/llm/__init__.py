"""LLMs on every backend: model specs, the shared runner (`generate` timed and recorded alike everywhere), the
seeded `transformers` model, one engine at a time; `hf/` runs the model on eager, inductor and cudagraph, `vllm/`
on vLLM's engine."""

from .engine_cache import EngineCache
from .metrics import Generation
from .runner import Runner
from .specs import SHIPPED_MODELS, ModelSpecError, resolve_model

__all__ = [
    "EngineCache",
    "Generation",
    "ModelSpecError",
    "Runner",
    "SHIPPED_MODELS",
    "resolve_model",
]
