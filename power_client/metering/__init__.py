"""Measuring any code: `Monitor` and `measure` (the window API), the mark protocol, `power-measure`.

The names are loaded on first use, so a measured program that only writes marks
(`power_client.marks`) imports nothing heavier than the standard library.
"""

from __future__ import annotations

import importlib
from typing import Any

_FROM = {
    "Monitor": "power_client.metering.monitor",
    "MonitorError": "power_client.metering.monitor",
    "Window": "power_client.metering.monitor",
    "measure": "power_client.metering.monitor",
    "ChannelEnergy": "rules.measure.measurement",
    "Measurement": "rules.measure.measurement",
    "SourceEnergy": "rules.measure.measurement",
}
__all__ = sorted(_FROM)


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module 'power_client.metering' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
