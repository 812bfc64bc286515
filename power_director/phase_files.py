"""A phase's MLPerf sample file, `ranging/spl.txt` or `run_1/spl.txt`: the director's whole spl route.

From `recording/<analyzer>.arrows`, chunk by chunk (memory bounded by one chunk): the samples the
phase's mark tags, encoded as PTD lines (`analyzers.formats.sample_encode`) with that mark, as the
reference director writes it. One analyzer: its own lines, `Ch1..ChN` blocks. Several: the
reference's merged form, aligned by time (`merge`), `Analyzer1,<line>,Analyzer2,<line>,...`. Written
beside the file and renamed over it, so a reader never sees half of it. The live session (at each
stop, at `done`, when it fails) and the start-up recovery both write it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from analyzers.formats.atomic import replacing
from analyzers.formats.mlperf_layout import PHASE_DIRS, SAMPLE_LOG
from analyzers.formats.sample_encode import encode_lines, encode_merged_lines, lines_to_bytes
from analyzers.trace import Trace
from power_director.merge import Alignment, AnalyzerMerge
from power_director.storage import RecordingReader, recording_path


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
    target = folder / PHASE_DIRS[mode]
    target.mkdir(parents=True, exist_ok=True)
    base, *others = analyzers
    with replacing(target / SAMPLE_LOG) as temporary, temporary.open("wb") as out:
        if not others:
            return write_single(out, phase_chunks(folder, base, mark), mark), None
        alignments = write_merged(
            out,
            base,
            phase_chunks(folder, base, mark),
            [(name, phase_chunks(folder, name, mark)) for name in others],
            tolerance_ns,
            mark,
        )
    return alignments[0].samples, alignments


def write_single(out: BinaryIO, chunks: Iterable[Trace], mark: str) -> int:
    """One analyzer's lines to `out`, every one with `mark`; the number of lines."""
    lines = 0
    for chunk in chunks:
        if len(chunk):
            out.write(lines_to_bytes(encode_lines(chunk, mark=mark)))
            lines += len(chunk)
    return lines


def write_merged(
    out: BinaryIO,
    base_name: str,
    base: Iterable[Trace],
    others: Sequence[tuple[str, Iterable[Trace]]],
    tolerance_ns: int,
    mark: str,
) -> list[Alignment]:
    """Merged lines of several analyzers to `out`; the alignment of each (analyzer 1's first)."""
    merge = AnalyzerMerge(base_name, base, others, tolerance_ns)
    for rows in merge.rows():
        out.write(lines_to_bytes(encode_merged_lines(rows, mark=mark)))
    return merge.alignments
