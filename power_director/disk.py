"""Is the data directory usable? Asked before a session starts, so no run fails half-way for it.

Two questions, two answers: a directory the director cannot write to (missing, a file in the way,
read-only, no permission) is `StorageUnavailable` (503); one with less free space than
`server.min_free_mb` is `InsufficientStorage` (507). The write test is real: a small file is
created, written, flushed to disk with `fsync` and removed.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from power_director.errors import InsufficientStorage, StorageUnavailable

PROBE_NAME = ".write-probe"
MIB = 1024 * 1024


def check_data_dir(sessions_dir: Path, min_free_bytes: int) -> int:
    """Free bytes under `sessions_dir`; raises one of the two errors above."""
    probe = sessions_dir / PROBE_NAME
    try:
        sessions_dir.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as handle:
            handle.write(b"joulebench power-director write probe\n")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage(
                f"the data directory {sessions_dir} is full ({error.strerror}); free some space and retry"
            ) from None
        why = "not a directory" if isinstance(error, FileExistsError) else error.strerror or str(error)
        raise StorageUnavailable(
            f"the data directory {sessions_dir} cannot be written ({why}); "
            "no session can record there, fix it and retry"
        ) from None
    free = shutil.disk_usage(sessions_dir).free
    if free < min_free_bytes:
        raise InsufficientStorage(
            f"the data directory {sessions_dir} has {free / MIB:.1f} MiB free, less than the "
            f"{min_free_bytes / MIB:.0f} MiB a session needs (server.min_free_mb); free some space and retry"
        )
    return free
