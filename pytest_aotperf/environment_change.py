"""What changed between the environment a baseline was recorded in and this run's. Pure.

A verdict keeps its status when torch, vLLM, Python, the driver or the GPU changed (an upgrade is a
change worth testing) but says so; exact host counts, which the Python and torch versions decide, are
not comparable across them.
"""

from __future__ import annotations

from typing import Any, Mapping, Tuple

COMPARED_KEYS = ("device", "python", "torch", "cuda", "vllm", "driver")
"""The environment entries whose change is named beside every verdict of a test."""
ENVIRONMENT_CHANGED = "environment-changed"
"""The flag of a verdict whose baseline was recorded under another environment."""
HOST_COUNT_DEPENDS_ON: Mapping[str, Tuple[str, ...]] = {
    "aten_ops_per_call": ("torch",),
    "cuda_runtime_calls_per_call": ("torch", "cuda", "driver"),
    "python_calls_per_call": ("python", "torch"),
    "fx_calls": ("python", "torch"),
    "inductor_kernels": ("torch",),
}
"""The exact host counts (by their name, or its suffix for a named measurement) and what decides them."""


def environment_changes(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> Tuple[str, ...]:
    """`torch 2.11.0 -> 2.13.0` for every compared entry both environments name and that differs."""
    return tuple(
        f"{key} {baseline[key]} -> {current[key]}"
        for key in COMPARED_KEYS
        if key in baseline and key in current and baseline[key] != current[key]
    )


def host_count_not_comparable(metric: str, changes: Tuple[str, ...]) -> Tuple[str, ...]:
    """The changes that make exact host count `metric` not comparable with its baseline (none for other metrics)."""
    keys = next((keys for name, keys in HOST_COUNT_DEPENDS_ON.items() if metric.endswith(name)), ())
    return tuple(change for change in changes if change.split(" ", 1)[0] in keys)
