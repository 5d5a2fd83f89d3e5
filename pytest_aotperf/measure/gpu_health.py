"""SM clock and NVML clock-event (throttle) reasons, read around a measurement; never set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from .nvml import nvml_device

THROTTLED = "throttled"


def _throttle_reasons() -> Dict[int, str]:
    import pynvml

    return {
        pynvml.nvmlClocksEventReasonSwPowerCap: "sw_power_cap",
        pynvml.nvmlClocksEventReasonHwSlowdown: "hw_slowdown",
        pynvml.nvmlClocksEventReasonHwThermalSlowdown: "hw_thermal_slowdown",
        pynvml.nvmlClocksEventReasonSwThermalSlowdown: "sw_thermal_slowdown",
        pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown: "hw_power_brake_slowdown",
    }


@dataclass(frozen=True)
class ClockReading:
    sm_clock_mhz: int
    reasons: Tuple[str, ...]
    """Power or thermal clock-event reasons active at the reading (idle and sync boost are ignored)."""


def read_clock() -> "ClockReading | None":
    """The GPU's SM clock and active throttle reasons, or None without NVML."""
    device = nvml_device()
    if device.handle is None:
        return None
    import pynvml

    clock = pynvml.nvmlDeviceGetClockInfo(device.handle, pynvml.NVML_CLOCK_SM)
    mask = pynvml.nvmlDeviceGetCurrentClocksEventReasons(device.handle)
    return ClockReading(clock, tuple(name for bit, name in _throttle_reasons().items() if mask & bit))


def health_context(
    before: "ClockReading | None", after: "ClockReading | None"
) -> Tuple[Dict[str, object], Tuple[str, ...]]:
    """The context to store with a timing and its flags (`throttled` when either reading was)."""
    if before is None or after is None:
        return {}, ()
    reasons = sorted(set(before.reasons) | set(after.reasons))
    context = {
        "sm_clock_mhz_before": before.sm_clock_mhz,
        "sm_clock_mhz_after": after.sm_clock_mhz,
        "throttle_reasons": reasons,
    }
    return context, ((THROTTLED,) if reasons else ())
