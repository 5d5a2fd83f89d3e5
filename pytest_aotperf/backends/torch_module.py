"""The base of the backends that compile torch modules (eager, inductor, cudagraph): their `aot_llm` is the seeded
`transformers` model, run as each backend runs a module."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional

from .base import Backend, BackendUnsupported

if TYPE_CHECKING:
    from ..llm.engine_cache import EngineCache
    from ..llm.runner import Runner
    from ..recorder import PerfRecorder


class TorchModuleBackend(Backend):
    """A backend that compiles torch modules; its `llm` builds the spec's `transformers` model (one at a time,
    shared by equal requests)."""

    runs_llms = True

    def __init__(self) -> None:
        self._engines: Optional[EngineCache] = None

    def llm(self, model: str, recorder: PerfRecorder, **options: Any) -> Runner:
        """A runner on the model for `model` with `options` (built now, or shared with an earlier test)."""
        from ..llm.engine_cache import EngineCache
        from ..llm.hf.engine import build_hf_engine
        from ..llm.hf.runner import HfRunner
        from ..llm.hf_model import load_model_class
        from ..llm.specs import resolve_model

        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnsupported(reason)
        if self._engines is None:
            self._engines = EngineCache(functools.partial(build_hf_engine, self.name, device=self.device), self.monitor)
        load_model_class(resolve_model(model))
        engine, built_now = self._engines.get(model, options)
        recorder.add_all(self._engines.build_memory)
        runner = HfRunner(engine, recorder, built_now)
        recorder.configure_llm(runner.effective_config)
        return runner

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()
