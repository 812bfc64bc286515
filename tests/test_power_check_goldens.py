"""`power-check --json` on every fixture and on a demo folder, byte for byte as committed (`tests/data/goldens/`).

The goldens pin every key and digit of the output, so a refactor underneath (the sampling engine,
the parsers, the formats) shows any change it makes to a result at once. The folder's path is the
only thing masked. To accept an intended change: `python tests/test_power_check_goldens.py --write`,
then review the diff of the goldens like code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
GOLDENS = DATA / "goldens"
FOLDERS = sorted(
    p for kind in ("inference", "training", "tiny", "demo") for p in (DATA / kind).iterdir() if p.is_dir()
)


def power_check_json(folder: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr == ""
    masked = done.stdout.replace(str(folder), "<folder>")
    return json.dumps({"exit_status": done.returncode, "results": json.loads(masked)}, indent=2) + "\n"


def golden_path(folder: Path) -> Path:
    return GOLDENS / f"{folder.parent.name}-{folder.name}.json"


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_power_check_output_is_the_golden(folder: Path) -> None:
    assert power_check_json(folder) == golden_path(folder).read_text(encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_power_check_goldens.py --write")
    for folder in FOLDERS:
        golden_path(folder).write_text(power_check_json(folder), encoding="utf-8")
        print(f"wrote {golden_path(folder)}")
