"""Start-up: sessions a crash cut short are marked failed, and their samples put where MLPerf wants them.

A session whose `session.json` still says it was active when the director started again was
interrupted (`kill -9`, a power cut, an out-of-memory kill). Its recorder had flushed every poll,
so `recording/<analyzer>.arrows` holds the samples up to the last poll before the crash (a batch
cut in half is where reading stops). Recovery writes the `spl.txt` of the phase that was running
(and of any phase without one) and the Parquet trace(s) from those recordings, adds a line to
`server.log`, and rewrites `session.json` as failed with a reason that says what is there.
`server.json` is not written: the exchange it records lived in the lost process.
"""

from __future__ import annotations

import logging
import time

from analyzers.formats.mlperf_layout import PHASE_DIRS, SAMPLE_LOG, SERVER_LOG
from power_director.artifacts.server_log import SessionLog
from power_director.artifacts.traces import write_trace_files
from power_director.phase_files import write_phase_spl_file
from power_director.recorder import describe_time
from power_director.session_store import StoredSession, write_record
from power_director.storage import RecordingReader, recording_path
from power_director.transitions import Action, allowed, next_state

log = logging.getLogger("power_director")


def recover(stored: StoredSession, tolerance_ms: float | None) -> StoredSession:
    """Mark an interrupted session failed (writing what its recordings hold); final ones unchanged."""
    info = stored.info
    if not allowed(info.state, Action.RECOVER):
        return stored
    folder = stored.folder
    tolerance_ns = round((tolerance_ms if tolerance_ms is not None else stored.interval_ms / 2) * 1e6)
    was = info.state
    counts = []
    last_ns: int | None = None
    for name in stored.analyzers:
        reader = RecordingReader(recording_path(folder, name), name)
        samples = 0
        for chunk in reader.chunks():
            samples += len(chunk)
            last_ns = max(last_ns or 0, int(chunk.time_ns[-1]))
        counts.append(f"{name}: {samples}")
    for mode, mark in stored.phases.items():
        if mode == was or not (folder / PHASE_DIRS[mode] / SAMPLE_LOG).is_file():
            write_phase_spl_file(folder, stored.analyzers, mode, mark, tolerance_ns)
    write_trace_files(folder, stored.analyzers)
    reason = (
        f"interrupted: the director stopped while the session was {was}; the samples recorded up to "
        f"{describe_time(last_ns)} are kept ({', '.join(counts)} in recording/)"
    )
    server_log = SessionLog(folder / SERVER_LOG)
    server_log.error(f"Director restarted at {describe_time(time.time_ns())}: session {reason}")
    server_log.close()
    state = next_state(was, Action.RECOVER, info.session_id)
    info = info.model_copy(update={"state": state, "failure": reason})
    write_record(folder, info, stored.analyzers, stored.phases, stored.interval_ms)
    log.warning("session %s %s", info.session_id, reason)
    return StoredSession(folder, info, stored.analyzers, stored.phases, stored.interval_ms)


def recover_all(stored: list[StoredSession], tolerance_ms: float | None) -> list[StoredSession]:
    result = []
    for item in stored:
        try:
            result.append(recover(item, tolerance_ms))
        except OSError as error:
            log.error("session %s could not be recovered: %s", item.info.session_id, error)
            result.append(item)
    return result
