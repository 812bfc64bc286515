"""The session's Parquet traces next to the MLPerf folders, written chunk by chunk from the recordings.

`trace.parquet` (one analyzer) or `trace_<analyzer>.parquet` (one per analyzer when there are
several), and for an analyzer with a calibration certificate its corrected trace beside it
(`*.corrected.parquet`, see `calibration`). Written at each stop, at `done`, when a session fails,
and by the start-up recovery of a session a crash interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analyzers.formats.atomic import replacing
from analyzers.trace import Trace
from power_director.calibration import corrected_chunks, session_corrections
from power_director.storage import RecordingReader, recording_path, safe_name

TRACE_FILE = "trace.parquet"


def write_parquet_stream(path: Path, chunks: Iterable[Trace]) -> Path:
    """`Trace.to_parquet`'s layout, one row group per chunk (chunks of one analyzer, in time order)."""
    with replacing(path) as temporary:
        writer: pq.ParquetWriter | None = None
        try:
            for chunk in chunks:
                if not len(chunk):
                    continue
                table = pa.Table.from_pandas(chunk.to_pandas(), preserve_index=False)
                if writer is None:
                    metadata = dict(table.schema.metadata or {})
                    metadata[b"joulebench.source"] = chunk.source.encode()
                    writer = pq.ParquetWriter(temporary, table.schema.with_metadata(metadata))
                writer.write_table(table.cast(writer.schema))
            if writer is None:
                Trace.empty().to_parquet(temporary)
        finally:
            if writer is not None:
                writer.close()
    return path


def trace_file_names(analyzers: Sequence[str]) -> dict[str, str]:
    """Parquet file (relative to the session folder) per analyzer."""
    if len(analyzers) == 1:
        return {analyzers[0]: TRACE_FILE}
    return {name: f"trace_{safe_name(name)}.parquet" for name in analyzers}


def corrected_trace_name(trace_file: str) -> str:
    """`trace.parquet` -> `trace.corrected.parquet`: a certified analyzer's trace on the reference's scale."""
    return trace_file.removesuffix(".parquet") + ".corrected.parquet"


def write_trace_files(folder: Path, analyzers: Sequence[str]) -> dict[str, str]:
    """The raw trace of each analyzer, and the corrected one of each the session has a certificate for."""
    names = trace_file_names(analyzers)
    corrections = session_corrections(folder, analyzers)
    for analyzer, name in names.items():
        reader = RecordingReader(recording_path(folder, analyzer), analyzer)
        write_parquet_stream(folder / name, reader.chunks())
        if analyzer in corrections:
            chunks = corrected_chunks(reader.chunks(), corrections[analyzer])
            write_parquet_stream(folder / corrected_trace_name(name), chunks)
    return names
