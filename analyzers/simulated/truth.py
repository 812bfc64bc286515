"""Ground truth: the exact true power of every sample the simulated meter produced.

The simulated load is piecewise constant: sample k (taken at `t_k`) is the exact average power over
`(t_k - interval, t_k]`. So the true energy over any window is the sum of each sample's power times
its overlap with the window, and integrating the meter's samples (watts × interval) over whole
samples gives exactly the truth, up to float rounding. The truth keeps the samples the meter flagged
as over-range or missed: the load was there even though the meter did not report it.

Files: a `Trace` written as Parquet (`.parquet`) or CSV (any other suffix) with one extra column,
`interval_ns`; `uncertainty` is 0 (the values are exact) and flags are all 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analyzers.formats.atomic import replacing
from analyzers.trace import Trace

INTERVAL_COLUMN = "interval_ns"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """True samples (`trace`) and the interval each one stands for (`interval_ns`, int64)."""

    trace: Trace
    interval_ns: np.ndarray

    def energy_j(self, begin_ns: int, end_ns: int) -> float:
        """Exact true energy in J over `[begin_ns, end_ns]`, counting partial sample intervals pro rata."""
        t = self.trace.time_ns
        overlap_ns = np.minimum(t, end_ns) - np.maximum(t - self.interval_ns, begin_ns)
        overlap_ns = np.clip(overlap_ns, 0, None)
        return float(np.sum(self.trace.watts * overlap_ns) * 1e-9)

    def to_pandas(self) -> pd.DataFrame:
        frame = self.trace.to_pandas()
        frame[INTERVAL_COLUMN] = self.interval_ns
        return frame

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file, then rename), so a reader never sees half a file."""
        target = Path(path)
        frame = self.to_pandas()
        with replacing(target) as temporary:
            if target.suffix == ".parquet":
                table = pa.Table.from_pandas(frame, preserve_index=False)
                metadata = dict(table.schema.metadata or {})
                metadata[b"joulebench.source"] = self.trace.source.encode()
                pq.write_table(table.replace_schema_metadata(metadata), temporary)
            else:
                frame.to_csv(temporary, index=False)

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        source = Path(path)
        frame = pq.read_table(source).to_pandas() if source.suffix == ".parquet" else pd.read_csv(source)
        interval_ns = frame.pop(INTERVAL_COLUMN).to_numpy(dtype=np.int64)
        return cls(trace=Trace.from_pandas(frame), interval_ns=interval_ns)


class GroundTruthRecorder:
    """Collects true chunks as the meter produces them. Not thread-safe: the meter holds its lock."""

    def __init__(self, channel_count: int, source: str) -> None:
        self._channel_count = channel_count
        self._source = source
        self._chunks: list[Trace] = []
        self._intervals: list[np.ndarray] = []

    def record(self, chunk: Trace, interval_ns: int) -> None:
        self._chunks.append(chunk)
        self._intervals.append(np.full(len(chunk), interval_ns, dtype=np.int64))

    def snapshot(self) -> GroundTruth:
        if not self._chunks:
            return GroundTruth(Trace.empty(self._channel_count, self._source), np.empty(0, dtype=np.int64))
        # Concatenate once and keep the result, so repeated snapshots stay cheap.
        self._chunks = [Trace.concat(self._chunks)]
        self._intervals = [np.concatenate(self._intervals)]
        return GroundTruth(self._chunks[0], self._intervals[0])
