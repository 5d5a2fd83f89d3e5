"""LLM runs on vLLM: model specs, engine options per vLLM release, engines and the runner."""

from .engine import Engine, EngineCache, EngineStartError, build_engine
from .metrics import Generation
from .options import OptionError, installed_release
from .runner import LlmRunner
from .specs import SHIPPED_MODELS, ModelSpecError, resolve_model

__all__ = [
    "Engine",
    "EngineCache",
    "EngineStartError",
    "Generation",
    "LlmRunner",
    "ModelSpecError",
    "OptionError",
    "SHIPPED_MODELS",
    "build_engine",
    "installed_release",
    "resolve_model",
]
