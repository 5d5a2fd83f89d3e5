"""LLMs on vLLM: engine options per vLLM release, engines, what they log, and the runner."""

from .engine import Engine, EngineStartError, build_engine
from .options import OptionError, installed_release
from .runner import VllmRunner

__all__ = ["Engine", "EngineStartError", "OptionError", "VllmRunner", "build_engine", "installed_release"]
