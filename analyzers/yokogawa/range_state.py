"""The range side of the Yokogawa driver: what it last read of each quantity's range, and the choice
of the smallest range that holds a requested value."""

from __future__ import annotations

import math

import numpy as np

from analyzers.errors import AnalyzerError
from analyzers.yokogawa.dialects import RangeInput


class RangeState:
    """One quantity's range per element, as last read (the sampling thread keeps autoranged ones current)."""

    def __init__(self, spec: RangeInput, values: np.ndarray, auto: np.ndarray) -> None:
        self.spec = spec
        self.values = values
        self.auto = auto


def smallest_range(table: tuple[float, ...], request: float, unit: str, device: str, model: str) -> float:
    if not math.isfinite(request) or request <= 0:
        raise AnalyzerError(device, f"a range must be a positive number, got {request:g} {unit}")
    for value in table:
        if request <= value * (1 + 1e-9):
            return value
    raise AnalyzerError(
        device,
        f"no {unit} range holds {request:g} {unit}",
        f"the {model} ranges go up to {table[-1]:g} {unit}",
    )
