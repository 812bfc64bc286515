"""A named window's `Measurement` from each source's samples: the one computation the live `Monitor`
and `power-check` (reading a `power-measure` folder) share, so both print the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from analyzers.trace import Trace
from rules.measure.energy import SourceColumns, window_energy
from rules.measure.measurement import ChannelEnergy, Measurement, SourceEnergy


@dataclass(frozen=True)
class SourceSamples:
    """One source's samples on the common clock, with what its windows need to know about it."""

    label: str
    interval_ns: int
    total: SourceColumns
    channels: tuple[SourceColumns, ...] = ()
    clock_uncertainty_s: float = 0.0
    counter_update_s: float | None = None
    shift_ns: int = 0
    """The source's clock minus the common one: a window [b, e] is [b + shift, e + shift] in its stamps."""
    lost: str | None = None
    """Why no further sample will come (the source became unreachable), else None."""

    @classmethod
    def from_trace(
        cls,
        label: str,
        trace: Trace,
        interval_ns: int,
        clock_uncertainty_s: float = 0.0,
        counter_update_s: float | None = None,
        energy_origin_ns: int | None = None,
    ) -> SourceSamples:
        channels = tuple(
            SourceColumns(trace.time_ns, block.watts, block.flags, block.uncertainty)
            for block in trace.channels
        )
        total = SourceColumns(
            trace.time_ns, trace.watts, trace.flags, trace.uncertainty, trace.energy_j, energy_origin_ns
        )
        return cls(label, interval_ns, total, channels, clock_uncertainty_s, counter_update_s)


def measure_window(name: str, begin_ns: int, end_ns: int, sources: Sequence[SourceSamples]) -> Measurement:
    results = []
    for source in sources:
        begin, end = begin_ns + source.shift_ns, end_ns + source.shift_ns
        total = window_energy(
            source.total, source.interval_ns, begin, end, source.clock_uncertainty_s, source.counter_update_s
        )
        channels = []
        for number, columns in enumerate(source.channels, start=1):
            part = window_energy(columns, source.interval_ns, begin, end, source.clock_uncertainty_s)
            channels.append(ChannelEnergy(number, part.energy_j, part.avg_power_w, part.samples))
        if source.lost is not None and not total.final:
            lost = f"the source became unreachable before the window ended ({source.lost}): no sample will complete it"
            total = replace(total, warnings=(*total.warnings, lost))
        results.append(SourceEnergy.of(source.label, total, tuple(channels)))
    return Measurement(name, begin_ns, end_ns, tuple(results))


def empty_columns() -> SourceColumns:
    nothing = np.empty(0)
    return SourceColumns(np.empty(0, dtype=np.int64), nothing, np.empty(0, dtype=np.int8), nothing)
