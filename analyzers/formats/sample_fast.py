"""The fast path for what the MLPerf metric reads: time and total watts of every `spl.txt` line.

A canonical PTD line starts `Time,MM-DD-YYYY HH:MM:SS.mmm,Watts,<number>,` whatever follows (channel
blocks, merged analyzers), so both fields sit at fixed byte offsets. The file is read in blocks of
raw bytes; line starts come from one vectorised newline search, and the two fields are decoded from
a fixed-width byte window per line (the watts by Arrow's string-to-double cast). Nothing else of the line is tokenised, which is where a general
CSV reader spends its time on a 40-field multi-channel line. Any line that is not canonical (a
NOTICE line, garbage, a time without milliseconds) makes this path give up and return None: the
general parser in `analyzers.formats.sample_decode` then handles the file and reports those lines.
"""

from __future__ import annotations

import io
import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from analyzers.formats.ptd_time import parse_ptd_time_matrix

_BLOCK_BYTES = 1 << 24
_WORKERS = 2
_TIME_START = 5  # after "Time,"
_TIME_LENGTH = 23  # MM-DD-YYYY HH:MM:SS.mmm
_WATTS_LABEL = b",Watts,"
_WATTS_START = _TIME_START + _TIME_LENGTH + len(_WATTS_LABEL)
_WATTS_MAX = 18  # digits, sign and point: far beyond any meter's reading
_WINDOW = _WATTS_START + _WATTS_MAX + 1
_PREFIX = np.frombuffer(b"Time,", dtype=np.uint8)
_LABEL = np.frombuffer(_WATTS_LABEL, dtype=np.uint8)


def _decode_block(block: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Time and watts of the complete lines of `block` (which ends with a newline)."""
    newlines = np.flatnonzero(block == 10)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    lengths = newlines - starts
    # Blank lines (and a lone CR of a CRLF file) carry nothing.
    content = lengths > 1
    starts = starts[content]
    lengths = lengths[content]
    if np.any(lengths < _WATTS_START + 2):
        return None
    padded = np.concatenate((block, np.zeros(_WINDOW, dtype=np.uint8)))
    rows = sliding_window_view(padded, _WINDOW)[starts]
    if not (rows[:, :5] == _PREFIX).all() or not (rows[:, 28:_WATTS_START] == _LABEL).all():
        return None
    time_ns, ok = parse_ptd_time_matrix(rows[:, _TIME_START:], np.full(len(rows), _TIME_LENGTH))
    if not ok.all():
        return None
    # The watts field: an Arrow string per line starting at its offset, cut at the first comma, then
    # Arrow's decimal-to-double cast (correctly rounded, as float() is). Anything that is not a
    # number, or a field that does not end within the window, fails the cast: not canonical.
    offsets = np.concatenate((starts + _WATTS_START, [len(block)])).astype(np.int64)
    tails = pa.Array.from_buffers(
        pa.large_string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    try:
        head = pc.utf8_slice_codeunits(tails, 0, _WATTS_MAX + 1)
        text = pc.list_element(pc.split_pattern(head, ",", max_splits=1), 0)
        watts = np.asarray(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if np.any(pc.utf8_length(text).to_numpy(zero_copy_only=False) > _WATTS_MAX):
        return None
    return time_ns, watts


def _blocks(handle: BinaryIO) -> Iterator[np.ndarray]:
    """The file in blocks of whole lines, each ending with a newline (one is added after a last line)."""
    carry = np.zeros(0, dtype=np.uint8)
    while True:
        chunk = np.frombuffer(handle.read(_BLOCK_BYTES), dtype=np.uint8)
        if len(chunk) == 0:
            if len(carry):
                yield np.concatenate((carry, np.array([10], dtype=np.uint8)))
            return
        data = np.concatenate((carry, chunk)) if len(carry) else chunk
        cut = _last_newline(data)
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :].copy()
        yield data[: cut + 1]


def read_spl_power(path: str | Path, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(epoch ns, total watts as written) of every line, or None if a line is not canonical.

    With `data` (the file's bytes, read by the caller) the file is not opened again."""
    if data is not None:
        return _decode_all(_blocks(io.BytesIO(data)))
    with Path(path).open("rb") as handle:
        return _decode_all(_blocks(handle))


def _decode_all(blocks: Iterator[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    times: list[np.ndarray] = []
    watts: list[np.ndarray] = []
    first = next(blocks, None)
    if first is None:
        return np.empty(0, dtype=np.int64), np.empty(0)
    second = next(blocks, None)
    if second is None:
        # One block (every file under 16 MiB): threads would only add their start and lock waits.
        if not _collect(_decode_block(first), times, watts):
            return None
    elif not _decode_in_pool(itertools.chain((first, second), blocks), times, watts):
        return None
    if not times:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(times), np.concatenate(watts)


def _decode_in_pool(blocks: Iterator[np.ndarray], times: list[np.ndarray], watts: list[np.ndarray]) -> bool:
    # numpy and Arrow kernels release the GIL: decoding two blocks at once uses both cores, while the
    # bounded queue of pending blocks keeps memory at a few blocks whatever the file size.
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        pending: deque[Future[tuple[np.ndarray, np.ndarray] | None]] = deque()
        for block in blocks:
            pending.append(pool.submit(_decode_block, block))
            if len(pending) > _WORKERS and not _collect(pending.popleft().result(), times, watts):
                return False
        while pending:
            if not _collect(pending.popleft().result(), times, watts):
                return False
    return True


def _collect(
    decoded: tuple[np.ndarray, np.ndarray] | None, times: list[np.ndarray], watts: list[np.ndarray]
) -> bool:
    if decoded is None:
        return False
    times.append(decoded[0])
    watts.append(decoded[1])
    return True


def _last_newline(data: np.ndarray) -> int:
    tail = 1 << 16
    while True:
        window = data[-tail:]
        found = np.flatnonzero(window == 10)
        if len(found):
            return len(data) - len(window) + int(found[-1])
        if tail >= len(data):
            return -1
        tail *= 4
