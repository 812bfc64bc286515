"""PTD field values -> numpy columns, the same for every input the decoder reads.

PTD's sentinels: `-1`/`-2` watts become NaN with the sentinel in `flags` (a value that did not parse
or reads NaN is an error sample too); `-1`/`-2` volts, amps and PF (PTD's "not provided", and every
quantity of a missed sample) become NaN; volts and amps beyond their physical range become NaN.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analyzers.formats.sample_layout import NOT_SET_MARK, QuantityColumns
from analyzers.trace import NO_MARK, SAMPLE_ERROR, SAMPLE_OK, decode_sentinel_watts


def column_name(index: int) -> str:
    return f"f{index}"


def values_of(block: QuantityColumns) -> tuple[int, int, int, int]:
    return (block.watts, block.volts, block.amps, block.pf)


def sentinel_flags(watts: np.ndarray, parsed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PTD's sentinels, plus a value that did not parse or reads NaN, which is an error sample too."""
    clean, flags = decode_sentinel_watts(watts)
    flags[~parsed | np.isnan(watts)] = SAMPLE_ERROR
    return np.where(flags == SAMPLE_OK, clean, np.nan), flags


def not_provided(values: np.ndarray) -> np.ndarray:
    """PTD writes -1 for a quantity it does not provide (e.g. volts of a sum block), -2 for every
    quantity of a missed sample."""
    return np.where((values == -1.0) | (values == -2.0), np.nan, values)


def physical(values: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Volts or amps with the readings beyond ±limit (infinite, absurd) as NaN; returns (values,
    implausible mask). Signs stay: PTD reports a channel wired the other way round with negative amps
    (v1.0 NVIDIA A100 ranging logs do). NaN (not provided) stays NaN and is not implausible."""
    implausible = ~np.isnan(values) & ~(np.abs(values) <= limit)
    return np.where(implausible, np.nan, values), implausible


def marks(column: pa.ChunkedArray) -> tuple[np.ndarray, tuple[str, ...]]:
    unified = column.unify_dictionaries()
    if unified.num_chunks == 0:
        return np.empty(0, dtype=np.int32), ()
    dictionary = unified.chunk(0).dictionary.to_pylist()
    codes = np.concatenate(
        [np.asarray(chunk.indices.fill_null(-1).to_numpy(), dtype=np.int32) for chunk in unified.chunks]
    )
    names = [str(name) for name in dictionary]
    if NOT_SET_MARK in names:
        # PTD's `notset` means "no mark": fold it into NO_MARK and drop it from the names.
        notset = names.index(NOT_SET_MARK)
        remap = np.arange(len(names) + 1, dtype=np.int32) - 1  # index 0 is NO_MARK
        remap[notset + 1] = NO_MARK
        remap[notset + 2 :] -= 1
        codes = remap[codes + 1]
        del names[notset]
    return codes, tuple(names)
