"""Run the benchmark command once, timing it on the client clock, with its output in a log file.

The command runs in its own process group, so a Ctrl-C at the terminal reaches the client first; the
client then ends the workload itself (SIGTERM to its group, SIGKILL if it lingers) and aborts the
director's session.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from power_client.clock import Clock
from power_client.errors import WorkloadFailed

POLL_S = 0.25
TERMINATE_GRACE_S = 10.0


@dataclass(frozen=True)
class WorkloadRun:
    """When the command ran on the client's wall clock, and how it ended."""

    command: tuple[str, ...]
    started_ns: int
    ended_ns: int
    returncode: int
    output_path: Path | None


def run_workload(
    command: Sequence[str],
    clock: Clock,
    env: Mapping[str, str],
    output_path: Path | None,
    on_tick: Callable[[], None] | None = None,
) -> WorkloadRun:
    """Run `command` to its end; `on_tick` is called about every POLL_S seconds while it runs.

    A command that cannot start or exits non-zero raises WorkloadFailed. Anything raised while it runs
    (Ctrl-C, `Stopped` for SIGINT/SIGTERM, `on_tick`'s SessionFailed) ends the command's process group
    (SIGTERM, then SIGKILL after TERMINATE_GRACE_S) and propagates. `output_path` (stdout and stderr) None means the client's own stdout/stderr.
    """
    output = output_path.open("wb") if output_path is not None else None
    try:
        started_ns = clock.wall_ns()
        try:
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            raise WorkloadFailed(f"cannot start the workload {command[0]!r}: {error.strerror}") from None
        try:
            returncode = _wait(process, on_tick)
        except BaseException:  # Ctrl-C, SIGTERM, or the director failed the session (from `on_tick`)
            _terminate(process)
            raise
        ended_ns = clock.wall_ns()
    finally:
        if output is not None:
            output.close()
    run = WorkloadRun(tuple(command), started_ns, ended_ns, returncode, output_path)
    if returncode != 0:
        where = f"; its output is in {output_path}" if output_path is not None else ""
        raise WorkloadFailed(f"the workload {command[0]!r} exited with status {returncode}{where}")
    return run


def _wait(process: subprocess.Popen[bytes], on_tick: Callable[[], None] | None) -> int:
    while True:
        try:
            return process.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            if on_tick is not None:
                on_tick()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the workload's own process group (it may have children), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=TERMINATE_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue
