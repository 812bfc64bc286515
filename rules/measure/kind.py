"""`power-check` on a `power-measure --output` folder (kind `measure`): the same energy table, recomputed.

The energies are computed again from the trace files with the same code the live monitor used
(`rules.measure.windows`), so the folder proves its numbers: a `result.json` whose figures its own
traces do not give back is an invalid result, with a sentence per window that differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.measure.folder import COMMAND_WINDOW, is_measure_folder, read_measure_folder
from rules.measure.measurement import Measurement
from rules.measure.table import format_table
from rules.measure.windows import measure_window
from rules.result import CheckResult

# Recomputing reads the same float64 samples with the same code: any difference is a changed file.
_SAME = 1e-9


@dataclass
class MeasureResult(CheckResult):
    """`value` is the first source's energy over the command's window (J)."""

    windows: list[Measurement] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    exit_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(
            command=self.command,
            exit_status=self.exit_status,
            windows=[window.to_json() for window in self.windows],
        )
        return data

    def detail_lines(self) -> list[str]:
        return ["   " + line for line in format_table(self.windows)]


class MeasureKind:
    name = "measure"

    def claims(self, directory: Path) -> bool:
        return is_measure_folder(directory)

    def check(self, directory: Path, ruleset: str | None) -> MeasureResult:
        folder = read_measure_folder(directory)
        samples = folder.samples()
        windows = [measure_window(w.name, w.begin_ns, w.end_ns, samples) for w in folder.windows]
        errors = []
        for recorded, again in zip(folder.windows, windows, strict=True):
            for before, now in zip(recorded.sources, again.sources, strict=True):
                if not math.isclose(before.energy_j, now.energy_j, rel_tol=_SAME, abs_tol=1e-12):
                    errors.append(
                        f"{directory / 'result.json'}: window {recorded.name!r}, source {before.source}: "
                        f"{before.energy_j:.9g} J recorded, its trace gives {now.energy_j:.9g} J"
                    )
        command = next((w for w in windows if w.name == COMMAND_WINDOW), windows[0] if windows else None)
        first = command.sources[0] if command is not None and command.sources else None
        notes = [warning for window in windows for warning in window.warnings]
        exit_status = folder.document.get("exit_status")
        if exit_status not in (0, None):
            notes.append(f"the measured command exited with status {exit_status}")
        return MeasureResult(
            path=str(directory),
            kind="measure",
            value=None if first is None else first.energy_j,
            unit="J",
            valid=first is not None and not errors and all(w.final for w in windows),
            scenario=first.source if first is not None else "",
            uncertainty=None if first is None else first.uncertainty_j,
            errors=errors,
            notes=notes,
            windows=windows,
            command=[str(part) for part in folder.document.get("command", [])],
            exit_status=exit_status if isinstance(exit_status, int) else None,
        )
