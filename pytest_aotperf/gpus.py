"""One GPU per pytest-xdist worker: which device each worker sees, decided before torch starts CUDA.

A worker narrows `CUDA_VISIBLE_DEVICES` to its own device in its `pytest_configure`, before any test
imports torch's CUDA; the controller checks the worker count against the GPUs first, because xdist
turns a worker's usage error into an internal error that does not show it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, MutableMapping, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .metrics import Metric

SHARED_GPU = "shared-gpu"
"""The flag of a timing taken by a worker that shares its GPU with another worker (--aot-share-gpus)."""

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
TENSOR_PARALLEL_SIZE = "tensor_parallel_size"
"""The test configuration's key for the GPUs an LLM engine spans (vLLM's option of that name)."""


class GpuAssignmentError(ValueError):
    """More xdist workers than GPUs, without --aot-share-gpus."""


@dataclass(frozen=True)
class Assignment:
    """The device a worker uses, or None to leave CUDA_VISIBLE_DEVICES as it is."""

    device: Optional[str] = None
    """The entry of the visible list (an index or a UUID) the worker's CUDA_VISIBLE_DEVICES is set to."""
    index: Optional[int] = None
    """The position of that entry in the visible list."""
    shared: bool = False
    """Whether another worker uses the same GPU (its timings are flagged `shared-gpu`)."""

    def record(self) -> Mapping[str, object]:
        """What a test's configuration stores about the GPU (empty when nothing was assigned)."""
        if self.device is None:
            return {}
        return {"gpu_index": self.index, "gpu_device": self.device, "shared_gpu": self.shared}


UNCHANGED = Assignment()


def worker_number(worker_id: str) -> int:
    """`gw3` -> 3."""
    digits = worker_id[2:] if worker_id.startswith("gw") else worker_id
    if not digits.isdigit():
        raise GpuAssignmentError(f"cannot read a worker number from xdist worker id {worker_id!r}")
    return int(digits)


def check_worker_count(worker_count: int, visible: Sequence[str], share: bool) -> None:
    """Raise GpuAssignmentError where `worker_count` workers cannot each have their own GPU."""
    if visible and worker_count > len(visible) and not share:
        gpus = f"{len(visible)} GPU{'s' if len(visible) != 1 else ''} ({', '.join(visible)})"
        raise GpuAssignmentError(
            f"-n {worker_count} starts {worker_count} xdist workers but this machine has {gpus}: "
            f"give -n {len(visible)} or fewer, so that each worker measures on its own GPU, or "
            "--aot-share-gpus to let workers share GPUs (their timings are then flagged shared-gpu)"
        )


def assign_gpu(worker_id: Optional[str], worker_count: int, visible: Sequence[str], share: bool) -> Assignment:
    """The GPU of xdist worker `worker_id` (`gwK`) among `worker_count` workers and the `visible` devices.

    Not under xdist, or without a GPU: unchanged. Worker K gets visible[K]; with more workers than
    GPUs that is an error, unless `share`, when worker K gets visible[K % len(visible)], flagged shared.
    """
    if worker_id is None or not visible:
        return UNCHANGED
    check_worker_count(worker_count, visible, share)
    number = worker_number(worker_id)
    index = number % len(visible)
    return Assignment(device=visible[index], index=index, shared=worker_count > len(visible))


def parse_visible(text: str) -> Tuple[str, ...]:
    """The entries of a CUDA_VISIBLE_DEVICES value ("" and "-1" hide every GPU)."""
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    return () if entries in ((), ("-1",)) else entries


def visible_devices(environ: Mapping[str, str]) -> Tuple[str, ...]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES where set, else NVML's count; never torch."""
    if VISIBLE_DEVICES in environ:
        return parse_visible(environ[VISIBLE_DEVICES])
    return tuple(str(index) for index in range(nvml_device_count()))


def nvml_device_count() -> int:
    """The number of GPUs NVML sees; 0 without nvidia-ml-py or a driver."""
    try:
        import pynvml
    except ImportError:
        return 0
    try:
        pynvml.nvmlInit()
        count: int = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError:
        return 0
    return count


def xdist_worker(environ: Mapping[str, str]) -> Tuple[Optional[str], int]:
    """The xdist worker id and worker count this process runs as (None, 0 outside a worker)."""
    worker_id = environ.get("PYTEST_XDIST_WORKER")
    if not worker_id:
        return None, 0
    try:
        count = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        count = 1
    return worker_id, count


def apply_assignment(share: bool, environ: MutableMapping[str, str]) -> Assignment:
    """In an xdist worker, narrow CUDA_VISIBLE_DEVICES in `environ` to the worker's GPU; the assignment."""
    worker_id, count = xdist_worker(environ)
    if worker_id is None:
        return UNCHANGED
    assignment = assign_gpu(worker_id, count, visible_devices(environ), share)
    if assignment.device is not None:
        environ[VISIBLE_DEVICES] = assignment.device
    return assignment


def flag_shared(metrics: Tuple[Metric, ...], assignment: Assignment) -> Tuple[Metric, ...]:
    """The metrics with every timing (sampled or one-shot) flagged `shared-gpu` where the GPU was shared."""
    if not assignment.shared:
        return metrics
    return tuple(
        dataclasses.replace(metric, flags=metric.flags + (SHARED_GPU,))
        if metric.kind in ("timing", "duration") and SHARED_GPU not in metric.flags
        else metric
        for metric in metrics
    )


def keyed_backend(backend: str, tensor_parallel_size: int) -> str:
    """The backend a test's baseline is kept under: `vllm-tp2` for a run with tensor_parallel_size=2.

    A result on two GPUs is then never compared with one on a single GPU; TP 1 keeps the plain name.
    """
    return f"{backend}-tp{tensor_parallel_size}" if tensor_parallel_size > 1 else backend
