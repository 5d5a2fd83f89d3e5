"""The per-test recorder behind the `aot_perf` fixture."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .compiled import CompiledModel
from .gpus import TENSOR_PARALLEL_SIZE, UNCHANGED, Assignment, flag_shared, keyed_backend
from .host_speed import is_device_bound
from .measure.device_time import DeviceProbe, DeviceTiming
from .measure.dynamo import compiled_graph_count
from .measure.gpu_health import health_context, read_clock
from .measure.host_work import NO_RUNTIME_REASON, HostWork, count_host_work
from .measure.kernels import NO_CUDA_FOR_KERNEL_COUNT
from .measure.timing import L2Flusher, SamplingPlan, Timer, sample
from .memory_monitor import MemoryMonitor, absolute_of
from .metrics import Better, Kind, Metric
from .schema import require_json
from .units import format_quantity

RECOMPILED = "recompiled"
HOST_OUTRAN = "host-outran-sleep"
"""Flags a device time some of whose blocks the host was still issuing when the GPU's sleep ended."""
DEVICE_ABOVE_LATENCY = (
    "device time per call ({device}) above what a caller waits ({waited}): a device-bound call whose host "
    "overhead is within the noise"
)
NO_DEVICE_TIME = "no CUDA device: device time is timed by CUDA events on calls queued behind a sleep kernel"

ToleranceLookup = Callable[[str, Kind], Optional[float]]
"""The tolerance a test's metric is judged under, by name and kind: sampling stops once the median is tight for it."""


def no_tolerance(name: str, kind: Kind) -> Optional[float]:
    """Without a tolerance, sampling fills the time budget."""
    return None


def derived_name(measured: str, metric: str) -> str:
    """The name of a metric a measurement derives: `metric` for "latency", else prefixed (`prefill_gpu_time`)."""
    return metric if measured == "latency" else f"{measured}_{metric}"


def host_overhead(name: str, value: Optional[float] = None, unavailable: Optional[str] = None) -> Metric:
    """What a caller waits beyond the device's own time per call: information, never judged."""
    return Metric(name, "s", "lower", "timing", value=value, unavailable=unavailable, informational=True)


def device_context(device: DeviceTiming) -> Dict[str, object]:
    """How a device time was taken, and the profiler's kernel time of one call as its cross-check."""
    return {
        "calls_per_sample": device.calls_per_sample,
        "profiler_kernel_s": device.profile.kernel_s,
        "retaken_blocks": device.retaken,
        "host_outran_samples": device.outran,
    }


@dataclass(frozen=True)
class Recorded:
    """A finished test's measurement, as the plugin judges and stores it."""

    metrics: Tuple[Metric, ...]
    config: Mapping[str, Any]
    """The configuration measured (see `PerfRecorder.config`), stored with the baseline."""
    baseline_key: str
    """The backend the test's baselines are kept under: `vllm-tp2` for an engine on two GPUs."""


class PerfRecorder:
    """Records a test's metrics. `measure` times a callable; `record` stores any other value."""

    _l2_flusher: Optional[L2Flusher]
    """Made by the first measurement that flushes the L2, then kept: its buffer is 256 MiB."""

    def __init__(
        self,
        test_id: str,
        device: str,
        timer: Timer,
        plan: SamplingPlan,
        memory: Optional[MemoryMonitor] = None,
        graph_count: Callable[[], int] = compiled_graph_count,
        tolerance: ToleranceLookup = no_tolerance,
        device_probe: Optional[DeviceProbe] = None,
        backend: str = "",
        gpu: Assignment = UNCHANGED,
        host_work: Callable[[Callable[[], Any], bool], HostWork] = count_host_work,
    ) -> None:
        """`device_probe` times device time beside latency: made on CUDA when not given, none elsewhere.
        `backend`: the test's (its baselines' key); `gpu`: this xdist worker's (its timings are flagged
        `shared-gpu` where it shares it); `host_work` counts one call's host work (on CUDA or not)."""
        self.test_id = test_id
        self.device = device
        self._timer = timer
        self._plan = plan
        self._memory = memory
        self._graph_count = graph_count
        self._tolerance = tolerance
        self._on_gpu = device.startswith("cuda")
        self._device_probe = device_probe if device_probe is not None else DeviceProbe() if self._on_gpu else None
        self._l2_flusher = None
        self._metrics: Dict[str, Metric] = {}
        self._backend = backend
        self._gpu = gpu
        self._host_work = host_work
        self._compiled: List[CompiledModel] = []
        self._llm: Optional[Dict[str, Any]] = None
        self._tensor_parallel_size = 1
        self._recorded: Optional[Recorded] = None
        self._config: Dict[str, Any] = {}

    @property
    def metrics(self) -> Tuple[Metric, ...]:
        return tuple(self._metrics.values())

    def tolerance_for(self, name: str, kind: Kind = "timing") -> Optional[float]:
        """The tolerance `name` is judged under in this test (None outside a test): how tight to sample it."""
        return self._tolerance(name, kind)

    def measure(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "latency",
        warmup: Optional[float] = None,
        min_samples: Optional[int] = None,
        max_samples: Optional[int] = None,
        max_time: Optional[float] = None,
        flush_l2: Optional[bool] = None,
        **kwargs: Any,
    ) -> Metric:
        """Time `fn(*args, **kwargs)`: warm-up, then samples until the median is tight for the test's
        tolerance or the time budget is spent; records a lower-is-better timing (returned), and
        beside it the device time, kernels per call, host overhead and recompilations."""
        base = self._plan
        with self._naming_the_test():
            plan = dataclasses.replace(
                base,
                warmup_s=base.warmup_s if warmup is None else warmup,
                min_samples=base.min_samples if min_samples is None else min_samples,
                max_samples=base.max_samples if max_samples is None else max_samples,
                max_time_s=base.max_time_s if max_time is None else max_time,
                flush_l2=base.flush_l2 if flush_l2 is None else flush_l2,
            )
        if plan.flush_l2 and self._on_gpu and self._l2_flusher is None:
            self._l2_flusher = L2Flusher(self.device)
        between = self._l2_flusher if plan.flush_l2 and self._on_gpu else None
        call = (lambda: fn(*args, **kwargs)) if args or kwargs else fn
        clock_before = read_clock() if self._on_gpu else None
        tolerance = self._tolerance(name, "timing")
        timed = sample(call, self._timer, plan, between, graph_count=self._graph_count, tolerance=tolerance)
        clock_after = read_clock() if self._on_gpu else None
        context, flags = health_context(clock_before, clock_after)
        if timed.graphs_compiled:
            flags += (RECOMPILED,)
            context["graphs_compiled_while_timed"] = timed.graphs_compiled
        self.record(derived_name(name, "recompilations"), timed.graphs_compiled, unit="count", kind="count")
        latency = self.record_samples(
            name, timed.samples, unit="s", better="lower", kind="timing", flags=flags, context=context
        )
        device_time = self._measure_device(call, name, plan, between, latency)
        assert latency.value is not None  # a timing of samples has a median
        if device_time is not None and not is_device_bound(latency.value, device_time, tolerance):
            latency = self._metrics[name] = dataclasses.replace(latency, host_speed=True)
        self._count_host_work(call, name)
        if self._memory is not None:
            self._memory.checkpoint()
        return latency

    def _measure_device(
        self,
        call: Callable[[], Any],
        name: str,
        plan: SamplingPlan,
        between: Optional[Callable[[], Any]],
        latency: Metric,
    ) -> Optional[float]:
        """`gpu_time` (device seconds per call), `kernels_per_call` and `host_overhead` (latency minus
        device time, informational) beside a latency; unavailable with the reason without a device probe.
        The device time, where there is one."""
        gpu_time, kernels, overhead = (derived_name(name, m) for m in ("gpu_time", "kernels_per_call", "host_overhead"))
        if self._device_probe is None:
            self.record_unavailable(gpu_time, NO_DEVICE_TIME, unit="s", kind="timing")
            self.record_unavailable(kernels, NO_CUDA_FOR_KERNEL_COUNT, unit="count", kind="count")
            self.add(host_overhead(overhead, unavailable=NO_DEVICE_TIME))
            return None
        assert latency.value is not None  # a timing of samples has a median
        tolerance = self._tolerance(gpu_time, "timing")
        device = self._device_probe.measure(call, plan, latency.value, tolerance, between)
        device_time = self.record_samples(
            gpu_time,
            device.samples,
            flags=(HOST_OUTRAN,) if device.outran else (),
            context=device_context(device),
        )
        self.record(kernels, device.profile.kernels, unit="count", kind="count", copies=device.profile.copies)
        assert device_time.value is not None
        if device_time.value > latency.value:
            waited, device_s = (format_quantity(v, "s") for v in (latency.value, device_time.value))
            self.add(host_overhead(overhead, unavailable=DEVICE_ABOVE_LATENCY.format(device=device_s, waited=waited)))
        else:
            self.add(host_overhead(overhead, value=latency.value - device_time.value))
        return device_time.value

    def _count_host_work(self, call: Callable[[], Any], name: str) -> None:
        """`aten_ops_per_call`, `cuda_runtime_calls_per_call` and `python_calls_per_call`: exact counts of
        one call's host work, which a slower host does not move but a hook, copy or sync per call does."""
        work = self._host_work(call, self._on_gpu)
        self.record(derived_name(name, "aten_ops_per_call"), work.aten_ops, unit="count", kind="count")
        runtime_calls = derived_name(name, "cuda_runtime_calls_per_call")
        if work.runtime_calls is None:
            self.record_unavailable(runtime_calls, NO_RUNTIME_REASON, unit="count", kind="count")
        else:
            self.record(runtime_calls, work.runtime_calls, unit="count", kind="count")
        self.record(derived_name(name, "python_calls_per_call"), work.python_calls, unit="count", kind="count")

    def record(
        self,
        name: str,
        value: float,
        unit: str = "",
        better: Better = "lower",
        kind: Kind = "value",
        host_speed: Optional[bool] = None,
        **context: Any,
    ) -> Metric:
        """Record one value, such as a throughput (better="higher") or a count; it must be a finite number.
        `host_speed`: whether it moves with the host's speed (see `Metric.host_speed`); by default a
        timing on a machine without a GPU does."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{self.test_id}: metric {name!r}: the value must be a number, not {type(value).__name__} {value!r}"
            )
        with self._naming_the_test():
            metric = Metric(
                name=name,
                unit=unit,
                better=better,
                kind=kind,
                value=float(value),
                context=tuple(sorted(context.items())),
                host_speed=self._moves_with_host(kind, host_speed),
            )
        return self.add(metric)

    def record_samples(
        self,
        name: str,
        samples: Sequence[float],
        unit: str = "s",
        better: Better = "lower",
        kind: Kind = "timing",
        flags: Tuple[str, ...] = (),
        context: Optional[Mapping[str, object]] = None,
        host_speed: Optional[bool] = None,
    ) -> Metric:
        """Record a sample set measured elsewhere (a backend's own timings, a rate derived from a latency:
        pass `host_speed=latency.host_speed`)."""
        context_items = tuple(sorted((context or {}).items()))
        moves = self._moves_with_host(kind, host_speed)
        with self._naming_the_test():
            metric = Metric.from_samples(name, samples, unit, better, kind, flags, context_items, host_speed=moves)
        return self.add(metric)

    def _moves_with_host(self, kind: Kind, given: Optional[bool]) -> bool:
        """`given`, else whether a metric of `kind` moves with the host: every timing on a machine without a GPU."""
        return given if given is not None else kind == "timing" and not self._on_gpu

    def record_unavailable(
        self, name: str, reason: str, unit: str = "", better: Better = "lower", kind: Kind = "value"
    ) -> Metric:
        """Record that a metric could not be measured on this machine, and why."""
        with self._naming_the_test():
            metric = Metric(name=name, unit=unit, better=better, kind=kind, unavailable=reason)
        return self.add(metric)

    def attach(self, model: CompiledModel) -> None:
        """A model compiled for this test: its compile statistics are recorded when the test finishes."""
        self._compiled.append(model)

    def configure_llm(self, effective_config: Mapping[str, Any], tensor_parallel_size: int = 1) -> None:
        """The LLM engine the test runs on: its configuration, and the GPUs it spans (above 1, the test's
        baselines are kept apart: `vllm-tp2`)."""
        self._llm = dict(effective_config)
        self._tensor_parallel_size = tensor_parallel_size

    def note_decode_graphs(self, graphs: Mapping[str, float]) -> None:
        """The decode graphs' replays, padded and ungraphed calls so far, kept in the LLM's configuration."""
        if self._llm is None:
            self._llm = {}
        self._llm["decode_graphs"] = dict(graphs)

    @property
    def config(self) -> Dict[str, Any]:
        """The configuration measured so far, as it is stored with the baseline: each attached model's compile
        details (`compile`, `compile_2`, ...), the LLM's (`llm`), the GPUs it spans and this worker's GPU. A test
        adds its own entries with `aot_perf.config[key] = value` (JSON values, checked when the test finishes)."""
        self._config.update({f"compile{suffix}": dict(model.stats.details) for suffix, model in self._suffixed()})
        if self._llm is not None:
            self._config["llm"] = dict(self._llm)
        if self._tensor_parallel_size > 1:
            self._config[TENSOR_PARALLEL_SIZE] = self._tensor_parallel_size
        self._config.update(self._gpu.record())
        return self._config

    def finish(self) -> Recorded:
        """Add the attached models' compile statistics (the second model's as `compile_s_2`, ...) and the memory
        metrics (unless the test or backend recorded its own, then without their absolute companions either);
        the test's measurement, every timing flagged `shared-gpu` where this worker shares its GPU. Once: a
        second call returns the same."""
        if self._recorded is not None:
            return self._recorded
        config = self.config
        with self._naming_the_test():
            require_json(config, "configuration")
        for suffix, model in self._suffixed():
            for metric in model.stats.metrics:
                self.add(dataclasses.replace(metric, name=metric.name + suffix))
        if self._memory is not None:
            recorded = set(self._metrics)
            for metric in self._memory.finish():
                if metric.name not in recorded and absolute_of(metric.name) not in recorded:
                    self._metrics[metric.name] = metric
            self._memory = None
        metrics = flag_shared(self.metrics, self._gpu)
        self._recorded = Recorded(metrics, dict(config), keyed_backend(self._backend, self._tensor_parallel_size))
        return self._recorded

    def _suffixed(self) -> Iterator[Tuple[str, CompiledModel]]:
        """Each attached model with the suffix of its metrics and configuration: none for the first, `_2`, ..."""
        for index, model in enumerate(self._compiled):
            yield (f"_{index + 1}" if index else ""), model

    def restart_memory(self) -> None:
        """Count the test's memory from now: what it was handed so far (an LLM engine, built now or
        shared with an earlier test) is the build's, recorded as `build_` metrics."""
        if self._memory is not None:
            self._memory.start()

    def add_all(self, metrics: Sequence[Metric]) -> None:
        for metric in metrics:
            self.add(metric)

    def add(self, metric: Metric) -> Metric:
        """Record a metric made elsewhere (a backend's compile statistics); each name once per test."""
        if metric.name in self._metrics:
            raise ValueError(
                f"{self.test_id}: metric {metric.name!r} was already recorded in this test; "
                "give each measurement its own name="
            )
        self._metrics[metric.name] = metric
        return metric

    @contextlib.contextmanager
    def _naming_the_test(self) -> Iterator[None]:
        """A value Metric refuses (NaN, infinite, a negative time or size) is an error naming this test."""
        try:
            yield
        except ValueError as error:
            raise ValueError(f"{self.test_id}: {error}") from None

    @classmethod
    def standalone(
        cls,
        name: str,
        device: Optional[str] = None,
        *,
        plan: Optional[SamplingPlan] = None,
        memory: bool = False,
        tolerance: Optional[float] = None,
        timer: Optional[Timer] = None,
    ) -> PerfRecorder:
        """A recorder outside a test's `aot_perf` fixture (a script, pytest-benchmark's gate), named `name`.

        `device` is "cuda" where torch sees one, else "cpu"; `timer` the device's (`timer_for`); `plan`
        the default sampling. `memory` starts a memory monitor now, its metrics returned by `finish()`.
        `tolerance` (every metric's) ends sampling once the median is tight for it; without one, sampling
        fills the time budget.
        """
        from .measure.timing import timer_for

        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        monitor = MemoryMonitor(use_cuda=device.startswith("cuda")) if memory else None
        recorder = cls(
            name,
            device,
            timer if timer is not None else timer_for(device),
            plan if plan is not None else SamplingPlan(),
            monitor,
            tolerance=no_tolerance if tolerance is None else lambda metric, kind: tolerance,
        )
        if monitor is not None:
            monitor.start()
        return recorder
