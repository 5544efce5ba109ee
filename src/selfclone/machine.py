"""What this machine is: CPU name, cores, and whether bf16 matrix maths is fast here (AMX / AVX-512 bf16)."""
from __future__ import annotations

import functools
import os
import platform
import sys
from pathlib import Path


@functools.cache
def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.cache
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fast_bf16() -> bool:
    """True where the CPU has AMX-bf16 or AVX-512-bf16: there bf16 autocast trains faster than fp32."""
    return bool({"amx_bf16", "avx512_bf16"} & _cpu_flags())


def describe() -> str:
    """One line for every benchmark: CPU, cores, bf16, Python, and torch and its GPU when torch is loaded
    (a benchmark that measures memory without torch does not pay for importing it here)."""
    torch = sys.modules.get("torch")
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch is not None and torch.cuda.is_available() else ""
    lib = f", torch {torch.__version__}" if torch is not None else ""
    return (f"{cpu_name()}, {cores()} cores{', bf16 fast' if fast_bf16() else ''}{gpu}, "
            f"Python {platform.python_version()}{lib}")
