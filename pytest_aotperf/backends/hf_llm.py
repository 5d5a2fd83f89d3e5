"""`aot_llm` on the backends that compile modules: the seeded `transformers` model, run as each backend runs it."""

from __future__ import annotations

import functools
from typing import Any

from .base import Backend, BackendUnsupported


class HfLlmBackend(Backend):
    """A backend whose `llm` builds the spec's `transformers` model (one at a time, shared by equal requests)."""

    runs_llms = True

    def __init__(self) -> None:
        self._engines: Any = None

    def llm(self, model: str, recorder: Any, **options: Any) -> Any:
        """A runner on the model for `model` with `options` (built now, or shared with an earlier test)."""
        from ..llm.engine import EngineCache
        from ..llm.hf_engine import build_hf_engine
        from ..llm.hf_model import load_model_class
        from ..llm.hf_runner import HfLlmRunner
        from ..llm.specs import resolve_model

        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnsupported(reason)
        if self._engines is None:
            self._engines = EngineCache(functools.partial(build_hf_engine, self.name, device=self.device), self.monitor)
        load_model_class(resolve_model(model))
        engine, built_now = self._engines.get(model, options)
        recorder.add_all(self._engines.build_memory)
        runner = HfLlmRunner(engine, recorder, built_now)
        recorder.config["llm"] = dict(runner.effective_config)
        return runner

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()
