"""Sample files of a session: `ranging/spl.txt`, `run_1/spl.txt` (PTD's format, byte for byte) and the
Parquet trace of the whole session next to the MLPerf folders, written chunk by chunk from the recording.

PTD's `RL` lines carry no mark; the director writes `Mark,<session>_<mode>` into `spl.txt`, as the
reference director does, and multi-channel blocks labelled `Ch1`..`ChN`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analyzers.spl_writer import format_sample_lines, lines_to_bytes
from analyzers.trace import Trace

SAMPLE_LOG = "spl.txt"
TRACE_FILE = "trace.parquet"


def marked(trace: Trace, mark: str) -> Trace:
    """`trace` with every sample tagged `mark`."""
    return replace(trace, mark_codes=np.zeros(len(trace), dtype=np.int32), mark_names=(mark,))


def write_phase_spl(folder: Path, chunks: Iterable[Trace], mark: str) -> tuple[Path, int]:
    """`<folder>/spl.txt` of one analyzer's phase, chunk by chunk (memory bounded by one chunk).

    Written to a temporary name and renamed, so a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SAMPLE_LOG
    temporary = path.with_suffix(".txt.tmp")
    lines = 0
    with temporary.open("wb") as out:
        for chunk in chunks:
            if len(chunk):
                out.write(lines_to_bytes(format_sample_lines(marked(chunk, mark))))
                lines += len(chunk)
    temporary.replace(path)
    return path, lines


def write_parquet_stream(path: Path, chunks: Iterable[Trace]) -> Path:
    """`Trace.to_parquet`'s layout, one row group per chunk (chunks of one analyzer, in time order)."""
    temporary = path.with_suffix(".parquet.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in chunks:
            if not len(chunk):
                continue
            table = pa.Table.from_pandas(chunk.to_pandas(), preserve_index=False)
            if writer is None:
                metadata = dict(table.schema.metadata or {})
                metadata[b"joulebench.source"] = chunk.source.encode()
                schema = table.schema.with_metadata(metadata)
                writer = pq.ParquetWriter(temporary, schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            Trace.empty().to_parquet(temporary)
    finally:
        if writer is not None:
            writer.close()
    temporary.replace(path)
    return path
