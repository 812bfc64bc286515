"""The load control: how a workload in another process sets the simulated load.

The workload appends lines to the file named by `JOULEBENCH_SIM_CONTROL`:

    <epoch_ns> <watts> [<ramp_s>]

meaning "from UTC epoch ns `epoch_ns` on, the total load is `watts`, reached linearly over `ramp_s`
seconds (default 0: at once)". Blank lines and lines starting with `#` are ignored. The meter reads
new complete lines at every fetch; samples already produced are never rewritten, so write a line
before (or at) the time it names.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from analyzers.errors import AnalyzerProtocolError
from analyzers.simulated.load import LoadStep

ENV_CONTROL = "JOULEBENCH_SIM_CONTROL"


def parse_control_line(text: str, source: str, line_number: int) -> LoadStep | None:
    """One control line as a step; None for blank and comment lines."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = stripped.split()
    try:
        if len(fields) not in (2, 3):
            raise ValueError
        at_ns = int(fields[0])
        watts = float(fields[1])
        ramp_s = float(fields[2]) if len(fields) == 3 else 0.0
        if not (math.isfinite(watts) and watts >= 0 and math.isfinite(ramp_s) and ramp_s >= 0):
            raise ValueError
    except ValueError:
        raise AnalyzerProtocolError(
            source,
            f"line {line_number} is not '<epoch_ns> <watts> [<ramp_s>]' with values >= 0: {stripped!r}",
            "fix the line; the meter skips it and reads on",
        ) from None
    return LoadStep(at_ns=at_ns, watts=watts, ramp_s=ramp_s)


@dataclass(frozen=True)
class ControlUpdate:
    """What one poll found: the good steps, and the first malformed line if there was one."""

    steps: list[LoadStep]
    error: AnalyzerProtocolError | None = None


class ControlFile:
    """Reads the control file incrementally: each complete line once, partial lines when finished."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._line_number = 0
        self._partial = b""

    def poll(self) -> ControlUpdate:
        """Steps from lines completed since the last poll. A file that does not exist yet has none.

        A malformed line is consumed and reported once in `error`; the good lines around it still count.
        """
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return ControlUpdate([])
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        steps: list[LoadStep] = []
        first_error: AnalyzerProtocolError | None = None
        for raw in lines:
            self._line_number += 1
            try:
                step = parse_control_line(raw.decode("utf-8", "replace"), str(self.path), self._line_number)
            except AnalyzerProtocolError as error:
                first_error = first_error or error
                continue
            if step is not None:
                steps.append(step)
        return ControlUpdate(steps, first_error)


def append_load_step(
    path: str | Path, watts: float, at_ns: int | None = None, ramp_s: float = 0.0
) -> LoadStep:
    """Append one control line (a single `O_APPEND` write, so concurrent writers do not interleave)."""
    step = LoadStep(at_ns=time.time_ns() if at_ns is None else at_ns, watts=watts, ramp_s=ramp_s)
    line = f"{step.at_ns} {step.watts!r} {step.ramp_s!r}\n".encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)
    return step
