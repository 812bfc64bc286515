"""Ranges and uncertainty, modelled on a Yokogawa WT310.

- Voltage ranges 15/30/60/150/300/600 V and current ranges 0.5/1/2/5/10/20 A (crest factor 3).
- A fixed range request picks the smallest range that holds the requested value, as PTD does for
  `SR,A,<amps>`; auto picks, per sample, the smallest range that holds the reading.
- A reading above 140 % of its range is over-range: the meter shows `9.9E+37` and PTD logs an error
  sample, so the simulator flags it `SAMPLE_ERROR` with no value.
- Power uncertainty follows Yokogawa's spec style, reading % + range %: at 50/60 Hz
  ±(0.1 % of reading + 0.1 % of the power range), power range = voltage range × current range.
  A range far above the reading therefore pushes the relative uncertainty over PTD's 1 % limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.simulated.errors import SimulatorSettingError


@dataclass(frozen=True)
class RangeModel:
    """The range tables and accuracy of one meter model."""

    model: str
    volts_ranges: tuple[float, ...]
    amps_ranges: tuple[float, ...]
    over_range_ratio: float
    reading_fraction: float
    range_fraction: float
    uncertainty_limit: float = 0.01

    def pick(self, table: tuple[float, ...], request: float, quantity: str, device: str) -> float:
        """The smallest range of `table` that holds `request`."""
        if not np.isfinite(request) or request <= 0:
            raise SimulatorSettingError(device, f"{quantity} range must be a positive number, got {request}")
        for value in table:
            if request <= value:
                return value
        raise SimulatorSettingError(
            device,
            f"no {quantity} range holds {request:g}",
            f"the {self.model} ranges go up to {table[-1]:g}",
        )

    @staticmethod
    def auto(table: tuple[float, ...], readings: np.ndarray) -> np.ndarray:
        """Per reading, the smallest range that holds it (the largest when none does)."""
        ranges = np.asarray(table, dtype=np.float64)
        position = np.minimum(np.searchsorted(ranges, readings, side="left"), len(ranges) - 1)
        return ranges[position]

    def over_range(self, readings: np.ndarray, ranges: np.ndarray) -> np.ndarray:
        return readings > ranges * self.over_range_ratio

    def uncertainty(self, watts: np.ndarray, volts_range: np.ndarray, amps_range: np.ndarray) -> np.ndarray:
        """Relative uncertainty of each watts reading (0.003 = 0.3 %); NaN at 0 W, where it is unbounded."""
        absolute = self.reading_fraction * np.abs(watts) + self.range_fraction * volts_range * amps_range
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = absolute / np.abs(watts)
        return np.where(watts != 0, relative, np.nan)


WT310 = RangeModel(
    model="WT310",
    volts_ranges=(15.0, 30.0, 60.0, 150.0, 300.0, 600.0),
    amps_ranges=(0.5, 1.0, 2.0, 5.0, 10.0, 20.0),
    over_range_ratio=1.4,
    reading_fraction=0.001,
    range_fraction=0.001,
)


@dataclass
class ChannelRanges:
    """Range state of one channel. In auto mode `*_range` is the range of the latest sample."""

    volts_auto: bool
    volts_range: float
    amps_auto: bool
    amps_range: float

    @classmethod
    def auto_on(cls, model: RangeModel) -> ChannelRanges:
        return cls(True, model.volts_ranges[-1], True, model.amps_ranges[-1])

    def ranges_for(
        self, model: RangeModel, volts: np.ndarray, amps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Volts and amps range of each sample; remembers the last auto choice."""
        n = len(volts)
        if self.volts_auto:
            volts_range = model.auto(model.volts_ranges, volts)
            if n:
                self.volts_range = float(volts_range[-1])
        else:
            volts_range = np.full(n, self.volts_range)
        if self.amps_auto:
            amps_range = model.auto(model.amps_ranges, amps)
            if n:
                self.amps_range = float(amps_range[-1])
        else:
            amps_range = np.full(n, self.amps_range)
        return volts_range, amps_range
