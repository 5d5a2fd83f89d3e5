"""A test's memory as metrics, read with the probes of measure/memory (GPU peaks, NVML, host RSS).

Each is judged as the test's own: its peak over the test less what was held when the test began,
so that a test reads the same alone, first, or after other backends left models and caches in the
process. The absolute peak is kept beside it (`<name>_absolute`) as information. Each probe gives
Metrics, unavailable with the reason where the machine cannot measure it.
"""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

from .measure.memory import MemoryReadings, SystemReadings
from .metrics import Metric

GPU_PEAK_ALLOCATED = "gpu_peak_allocated"
GPU_PEAK_RESERVED = "gpu_peak_reserved"
GPU_DEVICE_USED = "gpu_device_used"
HOST_PEAK_RSS = "host_peak_rss"
MEMORY_METRICS = (GPU_PEAK_ALLOCATED, GPU_PEAK_RESERVED, GPU_DEVICE_USED, HOST_PEAK_RSS)
ABSOLUTE = "_absolute"
"""Suffix of the informational absolute peak beside each per-test metric: `host_peak_rss_absolute`."""
NO_TORCH_CUDA = "no CUDA device: torch's GPU memory counters need one"
NO_RSS_RESET = (
    "the peak-RSS mark cannot be reset here (/proc/PID/clear_refs): without it the peak is the process "
    "lifetime's, not the test's"
)


def memory_metric(
    name: str,
    value: Optional[float] = None,
    unavailable: Optional[str] = None,
    informational: bool = False,
    context: Optional[Mapping[str, object]] = None,
) -> Metric:
    return Metric(
        name=name,
        unit="B",
        better="lower",
        kind="memory",
        value=value,
        unavailable=unavailable,
        context=tuple(sorted((context or {}).items())),
        informational=informational,
    )


def per_test(
    name: str, start: Optional[int], peak: Optional[int], reason: Optional[str] = None, **context: object
) -> Tuple[Metric, ...]:
    """The test's own peak (`peak` less `start`, judged) and the absolute `peak` (informational).

    Without a start reading the per-test metric is unavailable for `reason`, the absolute one still shown;
    without a peak reading, the per-test one alone says why (the absolute one would repeat it).
    """
    if peak is None:
        return (memory_metric(name, unavailable=reason or "no reading"),)
    absolute = memory_metric(name + ABSOLUTE, float(peak), informational=True, context=context)
    if start is None:
        return memory_metric(name, unavailable=reason or "no reading"), absolute
    own = memory_metric(name, float(max(0, peak - start)), context={**context, "held_at_start": start})
    return own, absolute


def absolute_of(name: str) -> Optional[str]:
    """The per-test metric an absolute one stands beside (`host_peak_rss` for `host_peak_rss_absolute`)."""
    return name[: -len(ABSOLUTE)] if name.endswith(ABSOLUTE) else None


class MemoryMonitor:
    """Started when a test begins (what is held then), polled at checkpoints, read when it ends."""

    def __init__(self, use_cuda: bool, readings: Optional[MemoryReadings] = None) -> None:
        self._use_cuda = use_cuda
        self._readings: MemoryReadings = readings or SystemReadings()
        self._torch_start: Optional[Tuple[int, int]] = None
        self._host_start: Optional[int] = None
        self._nvml_start: Optional[Tuple[int, str]] = None
        self._nvml_peak: Optional[int] = None
        self._nvml_source = ""
        self._nvml_reason: Optional[str] = None

    def start(self) -> None:
        """Take what is held now as the start (again, when called again); the peaks count from here."""
        self._nvml_peak = None
        readings = self._readings
        if self._use_cuda:
            self._torch_start = readings.reset_torch()
        self._host_start = readings.reset_host()
        self.checkpoint()
        if self._nvml_peak is not None:
            self._nvml_start = (self._nvml_peak, self._nvml_source)

    def checkpoint(self) -> None:
        """Read NVML now; device memory is sampled at checkpoints (each measurement, the end)."""
        used, source, reason = self._readings.nvml_used()
        self._nvml_reason = reason
        if used is not None:
            self._nvml_peak = used if self._nvml_peak is None else max(self._nvml_peak, used)
            self._nvml_source = source

    def finish(self) -> Tuple[Metric, ...]:
        """Per probe, the test's own peak and the absolute one (see the module docstring)."""
        self.checkpoint()
        return (*self._torch_metrics(), *self._nvml_metrics(), *self._host_metrics())

    def _torch_metrics(self) -> Tuple[Metric, ...]:
        if not self._use_cuda or self._torch_start is None:
            return (
                *per_test(GPU_PEAK_ALLOCATED, None, None, NO_TORCH_CUDA),
                *per_test(GPU_PEAK_RESERVED, None, None, NO_TORCH_CUDA),
            )
        (allocated, reserved), (peak_allocated, peak_reserved) = self._torch_start, self._readings.torch_peaks()
        return (
            *per_test(GPU_PEAK_ALLOCATED, allocated, peak_allocated, source="torch"),
            *per_test(GPU_PEAK_RESERVED, reserved, peak_reserved, source="torch"),
        )

    def _nvml_metrics(self) -> Tuple[Metric, ...]:
        if self._nvml_peak is None:
            return per_test(GPU_DEVICE_USED, None, None, self._nvml_reason or "NVML gave no reading")
        start, source = self._nvml_start or (None, "")
        if source != self._nvml_source:
            reason = f"NVML read {source or 'nothing'} at the start and {self._nvml_source} at the end"
            return per_test(GPU_DEVICE_USED, None, self._nvml_peak, reason, source=self._nvml_source)
        return per_test(GPU_DEVICE_USED, start, self._nvml_peak, source=self._nvml_source)

    def _host_metrics(self) -> Tuple[Metric, ...]:
        peak, context = self._readings.host_peak()
        return per_test(HOST_PEAK_RSS, self._host_start, peak, NO_RSS_RESET, **context)
