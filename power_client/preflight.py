"""Before a session opens: everything about this run that can fail without the director's meters.

The workload's executable must resolve; the output and extras folders must be new or empty and
creatable; the LoadGen log folder must be a folder (it is created when missing: the workload writes
there). Anything that fails here, or before the session has opened (a wrong token, the clock), ends
the run with nothing left behind: the folders it created are removed again, and `client.log` is
kept in memory until the session exists (`ClientLog`), then written from its first line.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import shutil
import time
from pathlib import Path

from power_client.errors import UsageError, WorkloadFailed


def check_workload(command: tuple[str, ...]) -> None:
    """WorkloadFailed (exit 6) when `command[0]` is no executable, as a path or on PATH."""
    program = command[0]
    if shutil.which(program) is not None:
        return
    if os.sep in program:
        path = Path(program)
        why = "it is not executable" if path.is_file() else "No such file or directory"
    else:
        why = "no such program on PATH"
    raise WorkloadFailed(f"cannot start the workload {program!r}: {why}")


def make_folders(output: Path, extras: Path, loadgen_logs: Path) -> list[Path]:
    """Create the run's folders; the ones created, innermost last (see `remove_created`)."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"the output folder {output} already exists and is not empty; choose a new one")
    if loadgen_logs.exists() and not loadgen_logs.is_dir():
        raise UsageError(f"the LoadGen log folder {loadgen_logs} is a file, not a folder")
    created: list[Path] = []
    try:
        for folder, what in ((output, "output"), (extras, "extras"), (loadgen_logs, "LoadGen log")):
            created += _make(folder, what)
    except UsageError:
        remove_created(created)
        raise
    return created


def remove_created(created: list[Path]) -> None:
    """Undo `make_folders` for a run that ended before its session opened (they are still empty)."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):  # something was put there meanwhile: leave it
            folder.rmdir()


def _make(folder: Path, what: str) -> list[Path]:
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"cannot create the {what} folder {folder}: {probe} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the {what} folder {folder}: {error.strerror or error}") from None
    return list(reversed(missing))


class ClientLog:
    """`client.log`: in memory until the session opens, then the file (its earlier lines first)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._formatter = logging.Formatter("client %(asctime)s [%(levelname)s] %(message)s")
        self._formatter.converter = time.gmtime  # UTC, as every joulebench time is
        self._memory = logging.handlers.MemoryHandler(capacity=1 << 20, flushLevel=logging.CRITICAL + 1)
        self._file: logging.Handler | None = None
        logger.addHandler(self._memory)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    def to_file(self, path: Path) -> None:
        self._file = logging.FileHandler(path, encoding="utf-8")
        self._file.setFormatter(self._formatter)
        self._memory.setTarget(self._file)
        self._memory.flush()
        self._logger.removeHandler(self._memory)
        self._logger.addHandler(self._file)

    def close(self) -> None:
        for handler in (self._memory, self._file):
            if handler is not None:
                self._logger.removeHandler(handler)
                handler.close()
