"""The machine a benchmark ran on, in words (benchmarks print it beside their figures)."""

from __future__ import annotations

import os
import platform

import torch


def describe() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "cpu"
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
