"""Where a training benchmark folder keeps its files, and which ones the score ignores.

```
<benchmark>/result_<run>.txt            one per run (performance log)
<benchmark>/power/result_<run>/node_*.txt, sw_*.txt
<benchmark>/scaling.json                optional {"scaling_factor": x}
```
Anything else under `power/` (a `total_power.txt`, plots) is reported in the notes and not read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rules.errors import InputError


@dataclass(frozen=True)
class RunFiles:
    name: str
    result: Path
    nodes: tuple[Path, ...]
    switches: tuple[Path, ...]


@dataclass
class TrainingFolder:
    directory: Path
    runs: list[RunFiles]
    notes: list[str] = field(default_factory=list)


def is_training_folder(directory: Path) -> bool:
    return (directory / "power").is_dir() and any(directory.glob("result_*.txt"))


def scan(directory: Path) -> TrainingFolder:
    """The runs of a benchmark folder; `InputError` when a run has no node power logs."""
    power = directory / "power"
    results = sorted(p for p in directory.glob("result_*.txt") if p.is_file())
    if not results:
        raise InputError(directory, "has no result_*.txt file")
    notes: list[str] = []
    runs = []
    for result in results:
        run_dir = power / result.stem
        nodes = tuple(sorted(run_dir.glob("node_*.txt"), key=_natural))
        switches = tuple(sorted(run_dir.glob("sw_*.txt"), key=_natural))
        if not nodes:
            raise InputError(run_dir, f"has no node_*.txt power log for {result.name}")
        runs.append(RunFiles(result.stem, result, nodes, switches))
        known = set(nodes) | set(switches)
        stray = sorted(p.name for p in run_dir.iterdir() if p not in known)
        if stray:
            notes.append(f"ignored {_listing(stray)} in power/{run_dir.name}")
    run_names = {r.name for r in runs}
    stray_top = sorted(p.name for p in power.iterdir() if p.name not in run_names)
    if stray_top:
        notes.append(f"ignored {_listing(stray_top)} in power/")
    return TrainingFolder(directory, runs, notes)


MAX_SCALING_FACTOR = 100.0
"""MLPerf Training's scaling factors stretch a result for borrowed hyperparameters; published ones lie
between 1 and 2. One above 100 is damage, not a rule."""


def scaling_factor(directory: Path) -> tuple[float, str]:
    """`scaling_factor` from `scaling.json`, with a note saying where it came from."""
    path = directory / "scaling.json"
    if not path.exists():
        return 1.0, "no scaling.json: scaling factor 1"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["scaling_factor"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"has no readable scaling_factor ({exc})") from exc
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_SCALING_FACTOR
    ):
        raise InputError(
            path, f"scaling_factor {value!r} is not a number above 0 and at most {MAX_SCALING_FACTOR:g}"
        )
    return float(value), f"scaling factor {value:.10g} from scaling.json"


def _natural(path: Path) -> tuple[int, str]:
    digits = "".join(c for c in path.stem if c.isdigit())
    return (int(digits) if digits else -1, path.name)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
