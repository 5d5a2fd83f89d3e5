"""Engine options for `vllm.LLM`, checked against the installed vLLM release.

Old CompilationConfig names (`level`, `use_inductor`, `use_cudagraph`, `full_cuda_graph`) are mapped
to the names of the installed release; any other option the release lacks is an `OptionError` that
names the option and the release.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Mapping, Tuple

PROBE_EXTENSION = "pytest_aotperf.llm.probe.WorkerProbe"
CPU_KV_CACHE_BYTES = 256 << 20
"""KV cache reserved on CPU unless the test says otherwise (vLLM would otherwise take a share of all RAM)."""

LEVEL_TO_MODE = {
    "NO_COMPILATION": "NONE",
    "DYNAMO_AS_IS": "STOCK_TORCH_COMPILE",
    "DYNAMO_ONCE": "DYNAMO_TRACE_ONCE",
    "PIECEWISE": "VLLM_COMPILE",
}
CUDAGRAPH_FLAGS = ("use_cudagraph", "full_cuda_graph")


class OptionError(ValueError):
    """An option the installed vLLM release does not have, or two options that contradict each other."""


@dataclass(frozen=True)
class VllmRelease:
    """What one vLLM release accepts: its version, `vllm.LLM`/EngineArgs options, CompilationConfig fields."""

    version: str
    engine_options: FrozenSet[str]
    compilation_fields: FrozenSet[str]


@dataclass(frozen=True)
class EngineOptions:
    """The keyword arguments for `vllm.LLM`, and which old option names were mapped to what."""

    kwargs: Mapping[str, Any]
    renamed: Tuple[Tuple[str, str], ...] = ()


@functools.lru_cache(maxsize=1)
def installed_release() -> VllmRelease:
    """The installed vLLM release, read from its own classes."""
    import inspect

    import vllm
    from vllm.config import CompilationConfig
    from vllm.engine.arg_utils import EngineArgs

    llm_parameters = set(inspect.signature(vllm.LLM.__init__).parameters) - {"self", "kwargs"}
    engine_fields = {f.name for f in dataclasses.fields(EngineArgs)}
    compilation_fields = {f.name for f in dataclasses.fields(CompilationConfig) if f.init}
    return VllmRelease(
        version=vllm.__version__,
        engine_options=frozenset(llm_parameters | engine_fields),
        compilation_fields=frozenset(compilation_fields),
    )


def engine_options(options: Mapping[str, Any], release: VllmRelease, *, model_path: str, device: str) -> EngineOptions:
    """The `vllm.LLM` kwargs for a test's options: defaults for dummy-weight performance runs, then the options."""
    unknown = sorted(set(options) - release.engine_options)
    if unknown:
        raise OptionError(
            f"vLLM {release.version} has no engine option {', '.join(map(repr, unknown))} "
            "(options pass to vllm.LLM / EngineArgs)"
        )
    if "worker_extension_cls" in options:
        raise OptionError(
            "worker_extension_cls is taken by pytest-aotperf: it reads vLLM's own "
            f"timings and memory figures through {PROBE_EXTENSION}"
        )
    kwargs: Dict[str, Any] = {
        "model": model_path,
        "load_format": "dummy",
        "skip_tokenizer_init": True,
        "enable_prefix_caching": False,
        "disable_log_stats": False,
        "seed": 0,
        "worker_extension_cls": PROBE_EXTENSION,
    }
    if device == "cpu" and "kv_cache_memory_bytes" not in options:
        kwargs["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
    kwargs.update(options)
    renamed: Tuple[Tuple[str, str], ...] = ()
    if isinstance(kwargs.get("compilation_config"), Mapping):
        compilation, renamed = compilation_options(kwargs["compilation_config"], release)
        kwargs["compilation_config"] = compilation
    return EngineOptions(kwargs=kwargs, renamed=renamed)


def compilation_options(
    config: Mapping[str, Any], release: VllmRelease
) -> Tuple[Dict[str, Any], Tuple[Tuple[str, str], ...]]:
    """A compilation_config dict in the release's field names, and the (old, new) names mapped."""
    fields = release.compilation_fields
    mapped: Dict[str, Any] = {}
    renamed = []

    def put(old: str, new: str, value: Any) -> None:
        if new not in fields:
            raise OptionError(f"vLLM {release.version}: compilation_config has neither {old!r} nor {new!r}")
        if new in config or new in mapped and mapped[new] != value:
            raise OptionError(
                f"compilation_config: {old!r} maps to {new!r} in vLLM {release.version}, "
                f"which is given too; give only {new!r}"
            )
        mapped[new] = value
        renamed.append((old, new))

    for name, value in config.items():
        if name in fields:
            mapped.setdefault(name, value)
        elif name == "level":
            put(name, "mode", LEVEL_TO_MODE.get(value, value) if isinstance(value, str) else value)
        elif name == "use_inductor":
            put(name, "backend", "inductor" if value else "eager")
        elif name in CUDAGRAPH_FLAGS:
            put(name, "cudagraph_mode", cudagraph_mode_for(config))
        else:
            raise OptionError(
                f"vLLM {release.version} has no compilation_config option {name!r}; it has: {', '.join(sorted(fields))}"
            )
    return mapped, tuple(renamed)


def cudagraph_mode_for(config: Mapping[str, Any]) -> str:
    """The cudagraph_mode that the old `use_cudagraph` / `full_cuda_graph` flags meant."""
    if config.get("use_cudagraph") is False:
        return "NONE"
    return "FULL" if config.get("full_cuda_graph") else "PIECEWISE"
