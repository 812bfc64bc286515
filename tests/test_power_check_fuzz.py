"""A seeded, bounded fuzz run of `power-check` over mutated copies of the public fixtures.

Each mutant is one fixture folder with one file damaged in one way a disk, a copy or a person does:
bytes flipped, the file cut short, lines duplicated or deleted, a number made huge, NaN or infinite,
latin-1 bytes, CR line ends, an empty file. Whatever the damage, `power-check` must exit 0, 1 or 2,
print nothing on stderr (no traceback, no warning), report no internal error ("unexpected …"), and
call no result VALID without a finite, positive value.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import shutil
from pathlib import Path

from rules.cli import main

DATA = Path(__file__).resolve().parent / "data"
FIXTURES = [
    DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream",
    DATA / "inference" / "v1.0-krai-rpi4-resnet50-singlestream",
    DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora",
    DATA / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy",
]
MUTANTS_PER_FIXTURE = 75  # 300 mutants
SEED = 2026
_NUMBER = re.compile(rb"-?\d+\.\d+|\b\d{2,}\b")


def _mutate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return b"x"
    kind = rng.choice(["flip", "cut", "duplicate", "delete", "huge", "nan", "inf", "latin1", "cr", "empty"])
    lines = data.split(b"\n")
    if kind == "flip":
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        return bytes(damaged)
    if kind == "cut":
        return data[: rng.randrange(len(data))]
    if kind in ("duplicate", "delete"):
        at = rng.randrange(len(lines))
        lines[at : at + 1] = [lines[at]] * 2 if kind == "duplicate" else []
        return b"\n".join(lines)
    if kind in ("huge", "nan", "inf"):
        numbers = list(_NUMBER.finditer(data))
        if not numbers:
            return data + b"\n1e308"
        hit = rng.choice(numbers)
        value = {"huge": b"1.7976931348623157e308", "nan": b"nan", "inf": rng.choice([b"inf", b"-inf"])}[kind]
        return data[: hit.start()] + value + data[hit.end() :]
    if kind == "latin1":
        at = rng.randrange(len(data))
        return data[:at] + "é".encode("latin-1") + data[at:]
    if kind == "cr":
        return data.replace(b"\n", b"\r")
    return b""


def test_mutated_folders_never_crash_warn_or_call_an_impossible_value_valid(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    mutants = []
    for fixture in FIXTURES:
        files = sorted(path for path in fixture.rglob("*") if path.is_file() and path.name != "PROVENANCE.md")
        for index in range(MUTANTS_PER_FIXTURE):
            folder = tmp_path / f"{fixture.name}-{index}"
            shutil.copytree(fixture, folder)
            victim = folder / rng.choice(files).relative_to(fixture)
            victim.write_bytes(_mutate(victim.read_bytes(), rng))
            mutants.append((folder, victim))
    problems = []
    for folder, victim in mutants:
        # In this process (a subprocess each would take minutes), stdout and stderr captured as a user sees them.
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(["--json", str(folder)])
        where = f"{victim.relative_to(tmp_path)}"
        if status not in (0, 1, 2):
            problems.append(f"{where}: exit {status}")
        # Unusable input is one sentence per line, "power-check: …"; anything else is a traceback or a warning.
        strays = [line for line in stderr.getvalue().splitlines() if not line.startswith("power-check: ")]
        if strays:
            problems.append(f"{where}: stderr {strays[:3]!r}")
        try:
            results = json.loads(stdout.getvalue()) if stdout.getvalue().strip() else []
        except ValueError:
            problems.append(f"{where}: stdout is not JSON: {stdout.getvalue()[:120]!r}")
            continue
        for result in results:
            value = result.get("value")
            if result.get("valid") and not (isinstance(value, float | int) and 0 < value < float("inf")):
                problems.append(f"{where}: valid with value {value!r}")
            text = " ".join(str(result.get(key, "")) for key in ("errors", "error", "notes"))
            if "unexpected " in text:
                problems.append(f"{where}: {text[:200]}")
    assert problems == [], (
        "\n".join(problems[:20]) + f"\n({len(problems)} problems in {len(mutants)} mutants)"
    )
