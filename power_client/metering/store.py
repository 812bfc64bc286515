"""One source's samples as they arrive: growable columns a window reads without concatenating.

Appending doubles the capacity when full (amortised O(1) per sample); a window reads views of the
filled part, so `end_window` costs a binary search and the few samples of the window, however long
the monitor has run. The chunks themselves are kept for the trace file.
"""

from __future__ import annotations

import numpy as np

from analyzers.trace import Trace
from rules.measure.energy import SourceColumns

_FIRST_CAPACITY = 1024


class SampleStore:
    def __init__(self) -> None:
        self.count = 0
        self.chunks: list[Trace] = []
        self.has_energy = False
        self.channel_count = 0  # fixed by the first chunk with channels
        self.dropped_channel_chunks = 0
        self.energy_origin_ns: int | None = None
        """When the source's energy counter read 0 (its measurement's start)."""
        self._time = np.empty(0, dtype=np.int64)
        self._watts = np.empty(0)
        self._flags = np.empty(0, dtype=np.int8)
        self._uncertainty = np.empty(0)
        self._energy = np.empty(0)
        self._channel_watts = np.empty((0, 0))
        self._channel_flags = np.empty((0, 0), dtype=np.int8)
        self._channel_uncertainty = np.empty((0, 0))

    @property
    def last_time_ns(self) -> int | None:
        return int(self._time[self.count - 1]) if self.count else None

    def append(self, trace: Trace) -> None:
        n = len(trace)
        if n == 0:
            return
        self.chunks.append(trace)
        if self.count == 0 and not self.channel_count and trace.channel_count > 1:
            self.channel_count = trace.channel_count
        self._reserve(self.count + n)
        end = self.count + n
        self._time[self.count : end] = trace.time_ns
        self._watts[self.count : end] = trace.watts
        self._flags[self.count : end] = trace.flags
        self._uncertainty[self.count : end] = trace.uncertainty
        if trace.energy_j is not None:
            self.has_energy = True
            self._energy[self.count : end] = trace.energy_j
        else:
            self._energy[self.count : end] = np.nan
        if self.channel_count:
            if trace.channel_count == self.channel_count:
                for k, block in enumerate(trace.channels):
                    self._channel_watts[k, self.count : end] = block.watts
                    self._channel_flags[k, self.count : end] = block.flags
                    self._channel_uncertainty[k, self.count : end] = block.uncertainty
            else:  # the layout changed mid-run: the channels of this chunk are not comparable
                self.dropped_channel_chunks += 1
                self._channel_watts[:, self.count : end] = np.nan
                self._channel_flags[:, self.count : end] = -1
                self._channel_uncertainty[:, self.count : end] = np.nan
        self.count = end

    def total(self) -> SourceColumns:
        n = self.count
        energy = self._energy[:n] if self.has_energy else None
        return SourceColumns(
            self._time[:n],
            self._watts[:n],
            self._flags[:n],
            self._uncertainty[:n],
            energy,
            self.energy_origin_ns,
        )

    def channels(self) -> tuple[SourceColumns, ...]:
        n = self.count
        return tuple(
            SourceColumns(
                self._time[:n],
                self._channel_watts[k, :n],
                self._channel_flags[k, :n],
                self._channel_uncertainty[k, :n],
            )
            for k in range(self.channel_count)
        )

    def trace(self) -> Trace:
        return Trace.concat(self.chunks) if self.chunks else Trace.empty()

    def _reserve(self, needed: int) -> None:
        capacity = len(self._time)
        if needed <= capacity:
            return
        new = max(_FIRST_CAPACITY, capacity * 2, needed)

        def grown(column: np.ndarray) -> np.ndarray:
            bigger = np.empty(new, dtype=column.dtype)
            bigger[: self.count] = column[: self.count]
            return bigger

        def grown_rows(column: np.ndarray) -> np.ndarray:
            bigger = np.empty((self.channel_count, new), dtype=column.dtype)
            if column.shape[0] == self.channel_count:
                bigger[:, : self.count] = column[:, : self.count]
            return bigger

        self._time, self._watts, self._flags = grown(self._time), grown(self._watts), grown(self._flags)
        self._uncertainty, self._energy = grown(self._uncertainty), grown(self._energy)
        self._channel_watts = grown_rows(self._channel_watts)
        self._channel_flags = grown_rows(self._channel_flags)
        self._channel_uncertainty = grown_rows(self._channel_uncertainty)
