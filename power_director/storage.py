"""Durable sample storage: one append-only Arrow IPC stream file per analyzer and session.

Why an Arrow IPC *stream* (`recording/<analyzer>.arrows`) rather than Parquet: a Parquet file is
only readable once its footer is written, so a director killed with `kill -9` would leave nothing
readable; row-group segment files would leave one file per flush. An IPC stream is a sequence of
self-contained record batches with no footer: every batch written and flushed before a crash reads
back, and a batch cut in half by the crash is simply where reading stops. Each poll of an analyzer
becomes one batch, written and flushed to the operating system at once (which is what survives
`kill -9`); `os.fsync` runs at most once per `fsync_interval_s` (what survives a power cut).

Columns: `time_ns` (int64, UTC epoch ns), `watts`, `volts`, `amps`, `pf`, `uncertainty` (float64),
`flag` (int8: 0, -1 error, -2 missed), `mark` (dictionary-encoded string, null = no mark), then per
channel of a multi-channel meter `ch<i>_watts` … `ch<i>_flag`. The schema is fixed by the first
batch (the channel count is known once samples arrive).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from analyzers.trace import NO_MARK, ChannelBlock, Trace

RECORDING_DIR = "recording"
SUFFIX = ".arrows"
_QUANTITIES = ("watts", "volts", "amps", "pf", "uncertainty")
_UNSAFE = re.compile(r"[^-_.A-Za-z0-9]")


class StorageError(OSError):
    """A recording cannot be written or read; the message names the file."""


def safe_name(analyzer: str) -> str:
    """An analyzer name as a file name (anything but letters, digits, `-_.` becomes `_`)."""
    return _UNSAFE.sub("_", analyzer)


def recording_path(session_folder: Path, analyzer: str) -> Path:
    """Where an analyzer's samples of a session go."""
    return session_folder / RECORDING_DIR / f"{safe_name(analyzer)}{SUFFIX}"


def _schema(channel_count: int, analyzer: str) -> pa.Schema:
    fields = [pa.field("time_ns", pa.int64())]
    fields += [pa.field(name, pa.float64()) for name in _QUANTITIES]
    fields += [pa.field("flag", pa.int8()), pa.field("mark", pa.dictionary(pa.int32(), pa.string()))]
    for index in range(1, channel_count + 1):
        fields += [pa.field(f"ch{index}_{name}", pa.float64()) for name in _QUANTITIES]
        fields.append(pa.field(f"ch{index}_flag", pa.int8()))
    return pa.schema(fields, metadata={b"joulebench.analyzer": analyzer.encode()})


def trace_to_batch(trace: Trace, schema: pa.Schema) -> pa.RecordBatch:
    codes = np.asarray(trace.mark_codes, dtype=np.int32)
    marks = pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes == NO_MARK), pa.array(list(trace.mark_names), type=pa.string())
    )
    columns: list[pa.Array] = [pa.array(trace.time_ns)]
    columns += [pa.array(getattr(trace, name)) for name in _QUANTITIES]
    columns += [pa.array(trace.flags), marks]
    for block in trace.channels:
        columns += [pa.array(getattr(block, name)) for name in _QUANTITIES]
        columns.append(pa.array(block.flags))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def batch_to_trace(batch: pa.RecordBatch, source: str = "") -> Trace:
    names = batch.schema.names
    channel_count = sum(1 for name in names if name.endswith("_flag") and name.startswith("ch"))

    def column(name: str) -> np.ndarray:
        return batch.column(names.index(name)).to_numpy(zero_copy_only=False)

    mark = batch.column(names.index("mark"))
    assert isinstance(mark, pa.DictionaryArray)
    codes = mark.indices.fill_null(NO_MARK).to_numpy(zero_copy_only=False).astype(np.int32)
    blocks = tuple(
        ChannelBlock.from_columns(
            **{name: column(f"ch{i}_{name}") for name in _QUANTITIES}, flags=column(f"ch{i}_flag")
        )
        for i in range(1, channel_count + 1)
    )
    return Trace(
        time_ns=column("time_ns").astype(np.int64),
        **{name: column(name).astype(np.float64) for name in _QUANTITIES},
        flags=column("flag").astype(np.int8),
        mark_codes=codes,
        mark_names=tuple(str(v) for v in mark.dictionary.to_pylist()),
        channels=blocks,
        source=source,
    )


class RecordingWriter:
    """Appends sample chunks of one analyzer to its stream file. Not thread-safe: one writer thread."""

    def __init__(self, path: Path, analyzer: str, fsync_interval_s: float = 1.0) -> None:
        self.path = path
        self.analyzer = analyzer
        self.fsync_interval_s = fsync_interval_s
        self.rows = 0
        self.batches = 0
        self._file: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._schema: pa.Schema | None = None
        self._channels = 0
        self._synced_at = time.monotonic()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created at once, empty: a session that recorded nothing still shows where it would be.
            self._file = open(path, "ab")  # noqa: SIM115 - held open for the session's lifetime
        except OSError as error:
            raise StorageError(f"{path}: cannot create the recording: {error.strerror or error}") from None

    def append(self, chunk: Trace) -> None:
        """Write `chunk` as one batch and flush it to the operating system (survives kill -9)."""
        if not len(chunk):
            return
        if self._file is None:
            raise StorageError(f"{self.path}: the recording is closed")
        try:
            if self._writer is None:
                self._schema = _schema(chunk.channel_count, self.analyzer)
                self._writer = pa.ipc.new_stream(self._file, self._schema)
                self._channels = chunk.channel_count
            assert self._schema is not None
            if chunk.channel_count != self._channels:
                raise StorageError(
                    f"{self.path}: analyzer {self.analyzer} changed its channel count mid-recording "
                    f"(now {chunk.channel_count})"
                )
            self._writer.write_batch(trace_to_batch(chunk, self._schema))
            self._file.flush()
            self.rows += len(chunk)
            self.batches += 1
            if time.monotonic() - self._synced_at >= self.fsync_interval_s:
                self.sync()
        except OSError as error:
            if isinstance(error, StorageError):
                raise
            raise StorageError(f"{self.path}: cannot write samples: {error.strerror or error}") from None

    def sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._synced_at = time.monotonic()

    def close(self) -> None:
        if self._file is None:
            return
        try:
            if self._writer is not None:
                self._writer.close()  # the end-of-stream marker; readers do not need it
            self.sync()
        finally:
            self._file.close()
            self._file = None


class RecordingReader:
    """Reads a stream file batch by batch; a batch cut short by a crash ends the reading quietly.

    `truncated` says afterwards whether the file ended inside a batch (what `kill -9` can leave)."""

    def __init__(self, path: Path, source: str = "") -> None:
        self.path = path
        self.source = source
        self.truncated = False

    def chunks(self) -> Iterator[Trace]:
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            reader = pa.ipc.open_stream(pa.memory_map(str(self.path)))
        except (OSError, pa.ArrowInvalid):
            self.truncated = True  # killed before the schema was complete: nothing was recorded
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (OSError, pa.ArrowInvalid):
                self.truncated = True
                return
            if batch.num_rows:
                yield batch_to_trace(batch, self.source)

    def read(self, mark: str | None = None) -> Trace:
        """Everything (or the samples tagged `mark`) as one trace: for tests and small recordings."""
        parts = [c.with_mark(mark) if mark is not None else c for c in self.chunks()]
        parts = [p for p in parts if len(p)]
        return Trace.concat(parts) if parts else Trace.empty(source=self.source)
