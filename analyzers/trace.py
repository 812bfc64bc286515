"""The sample/trace data model every driver, the director and the checker share.

A `Trace` is columnar: one numpy array per quantity, all the same length, one row per sample.
Timestamps are UTC epoch nanoseconds (int64). Quantities are SI floats. A value the source did not
provide is NaN. PTD's sentinels (`-1` error, `-2` missed sample) never appear as power values: the
sample's watts become NaN and its `flags` entry holds the sentinel, so every result can count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_OK = 0
SAMPLE_ERROR = -1
"""PTD `-1`: the meter reported an error, or the value was not provided."""
SAMPLE_MISSED = -2
"""PTD `-2`: the meter missed this sample."""
MIN_PRESENT_FRACTION = 0.5
"""A sample a driver reduces from a full-rate stream (Joulescope, Monsoon) is missed when fewer than
this share of its interval's samples arrived: its energy would be mostly guessed."""

NO_MARK = -1
"""Mark code of a sample taken outside any marked measurement (PTD writes `notset`)."""


def combine_channel_flags(channel_flags: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The flag of a total from the flags of its parts (channels, or a meter's own sum), sample by
    sample: the worst, where missed (-2) outranks error (-1) and error outranks OK (0).

    Missed wins because a line with a part never taken was not measured at all: there is no reading
    to call wrong, and counting it as an error would hide a sampling gap among meter faults. The
    total's watts are no measurement unless this is OK. Every driver and the simulator combine
    channels with this one function (the written contract in `analyzers.base.Analyzer.fetch`).
    `channel_flags`: one flag array per part, or a parts x samples array (used as it is, no copy)."""
    stacked = channel_flags if isinstance(channel_flags, np.ndarray) else np.vstack(channel_flags)
    return stacked.min(axis=0).astype(np.int8)


_QUANTITIES = ("watts", "volts", "amps", "pf", "uncertainty")
_SAMPLE_COLUMNS = (*_QUANTITIES, "flags")
"""The columns a trace and each of its channel blocks both have, one row per sample."""


def _sample_columns(
    n: int, watts: np.ndarray, volts: object, amps: object, pf: object, uncertainty: object, flags: object
) -> dict[str, Any]:
    """The sample columns from array-likes; a missing quantity is NaN, missing flags are all valid."""
    return {
        "watts": watts,
        "volts": _float_column(volts, n),
        "amps": _float_column(amps, n),
        "pf": _float_column(pf, n),
        "uncertainty": _float_column(uncertainty, n),
        "flags": np.zeros(n, dtype=np.int8) if flags is None else np.ascontiguousarray(flags, dtype=np.int8),
    }


def _float_column(values: object, length: int | None = None) -> np.ndarray:
    if values is None:
        if length is None:
            raise ValueError("a column without values needs a length")
        return np.full(length, np.nan)
    return np.ascontiguousarray(values, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ChannelBlock:
    """One channel (element) of a multi-channel analyzer, aligned row by row with its trace."""

    watts: np.ndarray
    volts: np.ndarray
    amps: np.ndarray
    pf: np.ndarray
    uncertainty: np.ndarray
    flags: np.ndarray

    @classmethod
    def from_columns(
        cls,
        watts: object,
        volts: object = None,
        amps: object = None,
        pf: object = None,
        uncertainty: object = None,
        flags: object = None,
    ) -> ChannelBlock:
        w = _float_column(watts)
        return cls(**_sample_columns(len(w), w, volts, amps, pf, uncertainty, flags))

    def __len__(self) -> int:
        return len(self.watts)

    def take(self, index: np.ndarray) -> ChannelBlock:
        return ChannelBlock(**{name: column[index] for name, column in self.columns().items()})

    def columns(self) -> dict[str, Any]:
        """The block's columns by name, as `Trace.from_columns` takes them."""
        return {name: getattr(self, name) for name in _SAMPLE_COLUMNS}


@dataclass(frozen=True, eq=False)
class Trace:
    """Samples of one analyzer (or a merge of several), in time order as the source delivered them.

    `watts`, `volts`, `amps`, `pf` and `uncertainty` describe the total (the PTD sum block for a
    multi-channel meter); `channels` holds one `ChannelBlock` per element. `uncertainty` is the
    per-sample relative uncertainty of the watts reading (0.006 = 0.6 %), NaN when unknown.
    `mark_codes` index into `mark_names`; `NO_MARK` means the sample carried no mark.
    `energy_j` is the source's cumulative energy counter where it has one (NVML, RAPL), else None.
    """

    time_ns: np.ndarray
    watts: np.ndarray
    volts: np.ndarray
    amps: np.ndarray
    pf: np.ndarray
    uncertainty: np.ndarray
    flags: np.ndarray
    mark_codes: np.ndarray
    mark_names: tuple[str, ...] = ()
    channels: tuple[ChannelBlock, ...] = ()
    energy_j: np.ndarray | None = None
    source: str = field(default="")

    def __post_init__(self) -> None:
        n = len(self.time_ns)
        if self.time_ns.dtype != np.int64:
            raise TypeError(f"time_ns must be int64 epoch nanoseconds, got {self.time_ns.dtype}")
        columns = {name: getattr(self, name) for name in (*_QUANTITIES, "flags", "mark_codes")}
        for name, column in columns.items():
            if len(column) != n:
                raise ValueError(f"column {name} has {len(column)} rows, time_ns has {n}")
        for index, block in enumerate(self.channels, start=1):
            if len(block) != n:
                raise ValueError(f"channel {index} has {len(block)} rows, time_ns has {n}")
        if self.energy_j is not None and len(self.energy_j) != n:
            raise ValueError(f"energy_j has {len(self.energy_j)} rows, time_ns has {n}")
        if n and int(self.mark_codes.max(initial=NO_MARK)) >= len(self.mark_names):
            raise ValueError("a mark code points past mark_names")

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_columns(
        cls,
        time_ns: object,
        watts: object,
        volts: object = None,
        amps: object = None,
        pf: object = None,
        uncertainty: object = None,
        flags: object = None,
        marks: Sequence[str | None] | str | None = None,
        channels: Sequence[ChannelBlock] = (),
        energy_j: object = None,
        source: str = "",
    ) -> Trace:
        """Build a trace from array-likes; `marks` is one mark for every sample or one per sample."""
        t = np.ascontiguousarray(time_ns, dtype=np.int64)
        n = len(t)
        codes, names = _encode_marks(marks, n)
        return cls(
            time_ns=t,
            **_sample_columns(n, _float_column(watts), volts, amps, pf, uncertainty, flags),
            mark_codes=codes,
            mark_names=names,
            channels=tuple(channels),
            energy_j=None if energy_j is None else _float_column(energy_j),
            source=source,
        )

    @classmethod
    def empty(cls, channel_count: int = 0, source: str = "") -> Trace:
        blocks = tuple(ChannelBlock.from_columns(np.empty(0)) for _ in range(channel_count))
        return cls.from_columns(np.empty(0, dtype=np.int64), np.empty(0), channels=blocks, source=source)

    @classmethod
    def concat(cls, traces: Iterable[Trace]) -> Trace:
        """Join chunks end to end (e.g. successive fetches); channel counts must agree."""
        parts = list(traces)
        if not parts:
            return cls.empty()
        channel_count = parts[0].channel_count
        if any(p.channel_count != channel_count for p in parts):
            raise ValueError("cannot concatenate traces with different channel counts")
        names: list[str] = []
        lookup: dict[str, int] = {}
        recoded = []
        for part in parts:
            mapping = np.empty(len(part.mark_names) + 1, dtype=np.int32)
            mapping[-1] = NO_MARK  # index -1 (NO_MARK) maps to itself
            for i, name in enumerate(part.mark_names):
                if name not in lookup:
                    lookup[name] = len(names)
                    names.append(name)
                mapping[i] = lookup[name]
            recoded.append(mapping[part.mark_codes])
        energies = [p.energy_j for p in parts if p.energy_j is not None]
        energy = np.concatenate(energies) if len(energies) == len(parts) else None
        blocks = tuple(
            ChannelBlock(
                **{
                    name: np.concatenate([getattr(p.channels[c], name) for p in parts])
                    for name in _SAMPLE_COLUMNS
                }
            )
            for c in range(channel_count)
        )
        return cls(
            time_ns=np.concatenate([p.time_ns for p in parts]),
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _SAMPLE_COLUMNS},
            mark_codes=np.concatenate(recoded).astype(np.int32),
            mark_names=tuple(names),
            channels=blocks,
            energy_j=energy,
            source=parts[0].source,
        )

    # -- inspection -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    @property
    def marks(self) -> pd.Categorical:
        """The per-sample marks as a pandas Categorical (NaN where a sample had no mark)."""
        import pandas as pd  # deferred: power-check never needs pandas, and it costs 0.5 s to import

        return pd.Categorical.from_codes(
            self.mark_codes, categories=pd.Index(list(self.mark_names), dtype=object)
        )

    def valid_mask(self) -> np.ndarray:
        """True where the sample is a real reading: no sentinel and a finite watts value."""
        return (self.flags == SAMPLE_OK) & np.isfinite(self.watts)

    def sentinel_counts(self) -> dict[str, int]:
        return {
            "error": int(np.count_nonzero(self.flags == SAMPLE_ERROR)),
            "missed": int(np.count_nonzero(self.flags == SAMPLE_MISSED)),
        }

    # -- selection ------------------------------------------------------------------------------

    def take(self, index: np.ndarray) -> Trace:
        """Rows by boolean mask or integer index, as a new trace."""
        return replace(
            self,
            time_ns=self.time_ns[index],
            **{name: getattr(self, name)[index] for name in _SAMPLE_COLUMNS},
            mark_codes=self.mark_codes[index],
            channels=tuple(block.take(index) for block in self.channels),
            energy_j=None if self.energy_j is None else self.energy_j[index],
        )

    def between(self, begin_ns: int, end_ns: int) -> Trace:
        """Samples strictly inside (begin_ns, end_ns): MLPerf's window rule."""
        return self.take((self.time_ns > begin_ns) & (self.time_ns < end_ns))

    def with_mark(self, mark: str) -> Trace:
        """Samples tagged with `mark`."""
        if mark not in self.mark_names:
            return self.take(np.zeros(len(self), dtype=bool))
        return self.take(self.mark_codes == self.mark_names.index(mark))

    # -- pandas and Parquet ---------------------------------------------------------------------

    def to_pandas(self) -> pd.DataFrame:
        """One row per sample: `time_ns`, totals, `flag`, `mark`, then `ch<i>_<quantity>` per channel."""
        import pandas as pd

        data: dict[str, object] = {"time_ns": self.time_ns}
        for name in _QUANTITIES:
            data[name] = getattr(self, name)
        data["flag"] = self.flags
        data["mark"] = self.marks
        for index, block in enumerate(self.channels, start=1):
            for name in _QUANTITIES:
                data[f"ch{index}_{name}"] = getattr(block, name)
            data[f"ch{index}_flag"] = block.flags
        if self.energy_j is not None:
            data["energy_j"] = self.energy_j
        frame = pd.DataFrame(data)
        frame.attrs["source"] = self.source
        return frame

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> Trace:
        """Inverse of `to_pandas`; missing optional columns become NaN / no mark / no channels."""
        import pandas as pd

        n = len(frame)

        def column(name: str) -> object:
            return frame[name].to_numpy() if name in frame else None

        channel_count = 0
        while f"ch{channel_count + 1}_watts" in frame:
            channel_count += 1
        blocks = tuple(
            ChannelBlock.from_columns(
                **{name: column(f"ch{i}_{name}") for name in _QUANTITIES},
                flags=column(f"ch{i}_flag"),
            )
            for i in range(1, channel_count + 1)
        )
        marks: Sequence[str | None] | None = None
        if "mark" in frame:
            mark_series = frame["mark"]
            marks = [None if pd.isna(m) else str(m) for m in mark_series.astype(object)]
        return cls.from_columns(
            time_ns=frame["time_ns"].to_numpy(dtype=np.int64) if n else np.empty(0, dtype=np.int64),
            **{name: column(name) for name in _QUANTITIES},
            flags=column("flag"),
            marks=marks,
            channels=blocks,
            energy_j=column("energy_j"),
            source=str(frame.attrs.get("source", "")),
        )

    def to_parquet(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.to_pandas(), preserve_index=False)
        metadata = dict(table.schema.metadata or {})
        metadata[b"joulebench.source"] = self.source.encode()
        pq.write_table(table.replace_schema_metadata(metadata), path)

    @classmethod
    def from_parquet(cls, path: str | Path) -> Trace:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        frame = table.to_pandas()
        frame.attrs["source"] = (table.schema.metadata or {}).get(b"joulebench.source", b"").decode()
        return cls.from_pandas(frame)


def decode_sentinel_watts(watts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PTD's watts as written -> (watts with NaN where a sentinel stood, flags holding the sentinel)."""
    flags = np.full(len(watts), SAMPLE_OK, dtype=np.int8)
    flags[watts == SAMPLE_ERROR] = SAMPLE_ERROR
    flags[watts == SAMPLE_MISSED] = SAMPLE_MISSED
    return np.where(flags == SAMPLE_OK, watts, np.nan), flags


def without_sentinels(values: np.ndarray) -> np.ndarray:
    """Volts, amps or PF as PTD wrote them, with its `-1`/`-2` sentinels as NaN."""
    return np.where((values == SAMPLE_ERROR) | (values == SAMPLE_MISSED), np.nan, values)


def _encode_marks(marks: Sequence[str | None] | str | None, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    if marks is None:
        return np.full(n, NO_MARK, dtype=np.int32), ()
    if isinstance(marks, str):
        return np.zeros(n, dtype=np.int32), (marks,)
    if len(marks) != n:
        raise ValueError(f"{len(marks)} marks for {n} samples")
    distinct = set(marks)
    if len(distinct) == 1:
        # One mark for the whole chunk (a polled source between mark changes): no factorising.
        [only] = distinct
        return _encode_marks(only, n)
    import pandas as pd

    categorical = pd.Categorical(list(marks))
    return np.asarray(categorical.codes, dtype=np.int32), tuple(str(c) for c in categorical.categories)
