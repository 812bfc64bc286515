"""NVIDIA GPUs through NVML (`--driver nvml`): one channel per GPU.

Rooms: `library` (loading pynvml, its errors as sentences), `gpu` (one GPU: probing, the energy
counter across a measurement, reset detection), `window` (when a window is too short for the
counter), `analyzer` (the `Analyzer`).
"""

from analyzers.nvml.analyzer import NvmlAnalyzer
from analyzers.nvml.gpu import POWER_SOURCES
from analyzers.nvml.window import window_warning

__all__ = ["POWER_SOURCES", "NvmlAnalyzer", "window_warning"]
