"""Sample files of a session: `ranging/spl.txt`, `run_1/spl.txt` (PTD's format, byte for byte) and the
Parquet trace of the whole session next to the MLPerf folders.

PTD's `RL` lines carry no mark; the director writes `Mark,<session>_<mode>` into `spl.txt`, as the
reference director does, and multi-channel blocks labelled `Ch1`..`ChN`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzers.spl_writer import write_spl
from analyzers.trace import Trace

SAMPLE_LOG = "spl.txt"
TRACE_FILE = "trace.parquet"


def marked(trace: Trace, mark: str) -> Trace:
    """`trace` with every sample tagged `mark`."""
    return replace(trace, mark_codes=np.zeros(len(trace), dtype=np.int32), mark_names=(mark,))


def write_phase_samples(folder: Path, trace: Trace, mark: str) -> Path:
    """`<folder>/spl.txt` for one phase."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SAMPLE_LOG
    write_spl(path, marked(trace, mark))
    return path


def write_session_trace(session_folder: Path, phases: list[Trace]) -> Path:
    """Every phase's samples, in order, in one Parquet file next to `power/`, `ranging/` and `run_1/`."""
    path = session_folder / TRACE_FILE
    parts = [trace for trace in phases if len(trace)]
    whole = Trace.concat(parts) if parts else Trace.empty()
    # Written whole each time (after each phase): a partial session is still readable.
    temporary = path.with_suffix(".parquet.tmp")
    whole.to_parquet(temporary)
    temporary.replace(path)
    return path
