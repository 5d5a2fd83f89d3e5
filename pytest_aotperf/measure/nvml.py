"""One NVML session for the run: the handle of the GPU the tests use, or why there is none."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class NvmlDevice:
    handle: Any
    """pynvml's handle, or None when NVML cannot be used; `reason` says why."""
    reason: Optional[str] = None


@functools.lru_cache(maxsize=1)
def nvml_device() -> NvmlDevice:
    """The NVML handle of torch's current CUDA device (matched by PCI bus id)."""
    try:
        import pynvml
    except ImportError:
        return NvmlDevice(None, "nvidia-ml-py is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return NvmlDevice(None, f"NVML is not available: {error}")
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(torch.cuda.current_device())
            # torch's stub of _CudaDeviceProperties lacks the PCI fields that its builds have
            bus_id = f"{props.pci_domain_id:08x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"  # type: ignore[attr-defined]
            return NvmlDevice(pynvml.nvmlDeviceGetHandleByPciBusId(bus_id))
    except (ImportError, AttributeError, pynvml.NVMLError):
        pass  # fall through to the first device; torch's view of it is not needed to read NVML
    if pynvml.nvmlDeviceGetCount() == 0:
        return NvmlDevice(None, "NVML sees no GPU")
    return NvmlDevice(pynvml.nvmlDeviceGetHandleByIndex(0))
