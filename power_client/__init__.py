"""The SUT side of joulebench: clock offset to the director, phase control, the workload, the MLPerf
folder; and measuring any code without a director: `Monitor`, `measure` (the window API,
`power_client.metering`), `power_client.marks` and `power-measure -- CMD`.

    from power_client import Monitor, measure

    with measure("inference", sources=["nvml:0"]) as window:
        run_the_model()
    print(window.measurement.energy_j)

Talks to the director over HTTP only; of `power_director` it imports nothing but the wire schemas in
`power_director.api`. The window API is imported on first use, so the client's own commands do not
load it.
"""

from __future__ import annotations

from typing import Any

_LAZY = ("ChannelEnergy", "Measurement", "Monitor", "MonitorError", "SourceEnergy", "Window", "measure")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module("power_client.metering"), name)
    raise AttributeError(f"module 'power_client' has no attribute {name!r}")
