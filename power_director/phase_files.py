"""A phase's MLPerf sample file and the session's Parquet traces, written from the recordings.

Both the live session (at each stop, at `done`, when it fails) and the start-up recovery of a
session a crash interrupted write them the same way, from `recording/<analyzer>.arrows`, chunk by
chunk: `ranging/spl.txt` or `run_1/spl.txt` (one analyzer: PTD's lines; several: the reference's
merged form, aligned by time, see `merge`), and `trace.parquet` (one analyzer) or
`trace_<analyzer>.parquet` (one per analyzer when there are several), and for an analyzer with a
calibration certificate its corrected trace beside it (`*.corrected.parquet`, see `calibration`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from analyzers.trace import Trace
from power_director.artifacts.samples import SAMPLE_LOG, TRACE_FILE, write_parquet_stream, write_phase_spl
from power_director.calibration import corrected_chunks, session_corrections
from power_director.merge import Alignment, write_merged
from power_director.storage import RecordingReader, recording_path, safe_name

PHASE_FOLDERS: dict[str, str] = {"ranging": "ranging", "testing": "run_1"}


def phase_chunks(folder: Path, analyzer: str, mark: str) -> Iterator[Trace]:
    """An analyzer's recorded samples tagged `mark`, chunk by chunk."""
    for chunk in RecordingReader(recording_path(folder, analyzer), analyzer).chunks():
        part = chunk.with_mark(mark)
        if len(part):
            yield part


def write_phase_spl_file(
    folder: Path, analyzers: Sequence[str], mode: str, mark: str, tolerance_ns: int
) -> tuple[int, list[Alignment] | None]:
    """`<phase folder>/spl.txt`; (lines written, the alignment when several analyzers were merged)."""
    target = folder / PHASE_FOLDERS[mode]
    if len(analyzers) == 1:
        _path, lines = write_phase_spl(target, phase_chunks(folder, analyzers[0], mark), mark)
        return lines, None
    target.mkdir(parents=True, exist_ok=True)
    path = target / SAMPLE_LOG
    temporary = path.with_suffix(".txt.tmp")
    base, *others = analyzers
    with temporary.open("wb") as out:
        alignments = write_merged(
            out,
            base,
            phase_chunks(folder, base, mark),
            [(name, phase_chunks(folder, name, mark)) for name in others],
            tolerance_ns,
            mark,
        )
    temporary.replace(path)
    return alignments[0].samples, alignments


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
