"""Benchmark: `power-check` over a tree of 600 inference power folders, against the cost of its bytes.

The tree is made from the three real MLPerf folders in `tests/data/inference/`: 200 copies of each,
every copy shifted by whole days (every PTD and LoadGen stamp, the session files' epoch times) and with
every 50th sample's watts changed (its sha1 re-recorded), so no two folders are alike; a few are broken
(a cut sample log, a missing server.json, a detail log without power_end). In one run it times:

- the floor: reading and SHA-1-hashing every byte of the tree, in one process;
- `power-check --json -j 1` and `-j <cores>` (whole commands: start-up, walk, checks, output);
each as a ratio to the floor, with ms per folder and MB/s; checks that both outputs are identical and
that every copy got its source's verdicts; then where one folder's time goes, stage by stage.

    python benchmarks/bench_check_tree.py [--copies 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analyzers.formats.mlperf_layout import (
    CLIENT_JSON_NAME,
    DETAIL_LOG,
    POWER_DIR,
    RANGING_DIR,
    SAMPLE_LOG,
    SERVER_JSON,
    SERVER_JSON_NAME,
    TESTING_DIR,
    TESTING_SAMPLES,
)
from rules.executor import default_workers
from rules.inference.folder import InferenceFolder
from rules.inference.kind import InferenceKind

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "inference"
_PTD_DATE = re.compile(rb"\b(\d\d)-(\d\d)-(\d{4})\b")
_ISO_DATE = re.compile(rb"\b(\d{4})-(\d\d)-(\d\d)T")
_WATTS = re.compile(rb",Watts,(-?\d+\.?\d*)")
_SHIFTED_TEXT = ("ranging/spl.txt", "run_1/spl.txt", "ranging/mlperf_log_detail.txt",
                 "run_1/mlperf_log_detail.txt", "power/ptd_logs.txt", "power/server.log",
                 "power/client.log")  # fmt: skip


def shift_dates(content: bytes, days: int) -> bytes:
    """Every MM-DD-YYYY and YYYY-MM-DDT date moved by `days` (a file holds a few distinct dates)."""
    delta = dt.timedelta(days=days)
    for found in set(_PTD_DATE.findall(content)):
        month, day, year = (int(x) for x in found)
        try:
            moved = dt.date(year, month, day) + delta
        except ValueError:
            continue
        content = content.replace(b"-".join(found), moved.strftime("%m-%d-%Y").encode())
    for found in set(_ISO_DATE.findall(content)):
        year, month, day = (int(x) for x in found)
        moved = dt.date(year, month, day) + delta
        content = content.replace(b"-".join(found) + b"T", moved.strftime("%Y-%m-%dT").encode())
    return content


def perturb_samples(content: bytes, every: int = 50) -> bytes:
    """Every `every`-th sample line's watts moved in its last digit (its length kept)."""
    lines = content.split(b"\n")
    for index in range(0, len(lines), every):
        match = _WATTS.search(lines[index])
        if match:
            value = match.group(1)
            last = (int(value[-1:]) + 1) % 10 if value[-1:].isdigit() else 0
            end = match.end(1)
            lines[index] = lines[index][: end - 1] + str(last).encode() + lines[index][end:]
    return b"\n".join(lines)


def shift_session(data: dict[str, Any], seconds: float, hashes: dict[str, str]) -> dict[str, Any]:
    data["phases"] = {
        mode: [[stamp[0] + seconds, *stamp[1:]] for stamp in stamps]
        for mode, stamps in data["phases"].items()
    }
    for message in data.get("messages", []):
        for key in ("cmd_time", "reply_time"):
            if isinstance(message.get(key), int | float):
                message[key] += seconds
    data["results"] = {name: hashes.get(name, digest) for name, digest in data["results"].items()}
    return data


def make_copy(source: Path, target: Path, days: int) -> None:
    shutil.copytree(source, target)
    hashes = {}
    for name in _SHIFTED_TEXT:
        path = target / name
        if path.is_file():
            content = shift_dates(path.read_bytes(), days)
            if name.endswith(SAMPLE_LOG):
                content = perturb_samples(content)
            path.write_bytes(content)
    for path in target.rglob("*"):
        if path.is_file() and path.parent.name in (POWER_DIR, RANGING_DIR, TESTING_DIR):
            hashes[f"{path.parent.name}/{path.name}"] = hashlib.sha1(path.read_bytes()).hexdigest()
    for side in (CLIENT_JSON_NAME, SERVER_JSON_NAME):
        path = target / "power" / side
        data = shift_session(json.loads(path.read_text()), days * 86_400.0, hashes)
        path.write_text(json.dumps(data, indent=2))


def break_copy(folder: Path, how: int) -> str:
    if how == 0:
        spl = folder / TESTING_SAMPLES
        content = spl.read_bytes()
        spl.write_bytes(content[: len(content) // 2] + b"\x00\xffgarbage")
        return "run_1/spl.txt cut and garbled"
    if how == 1:
        (folder / SERVER_JSON).unlink()
        return "power/server.json removed"
    detail = folder / TESTING_DIR / DETAIL_LOG
    detail.write_bytes(
        b"\n".join(line for line in detail.read_bytes().split(b"\n") if b'"power_end"' not in line)
    )
    return "run_1 detail log without power_end"


def make_tree(root: Path, copies: int) -> tuple[list[Path], dict[Path, Path], int]:
    """The tree, its folders, each copy's source (broken ones left out) and the bytes in it."""
    sources = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    folders: list[Path] = []
    origin: dict[Path, Path] = {}
    for index in range(copies * len(sources)):
        source = sources[index % len(sources)]
        folder = (
            root
            / "closed"
            / f"Org{index // 50:02d}"
            / "results"
            / f"{source.name}-{index:04d}"
            / "performance"
        )
        make_copy(source, folder, index % 14)
        folders.append(folder)
        if index % 100 == 99:
            break_copy(folder, (index // 100) % 3)
        else:
            origin[folder] = source
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return folders, origin, size


def floor_seconds(root: Path) -> float:
    """Read and SHA-1 every byte of the tree, one process: what any check of these folders must do."""
    start = time.perf_counter()
    for directory, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                hashlib.sha1(handle.read()).hexdigest()
    return time.perf_counter() - start


def power_check(root: Path, jobs: int) -> tuple[float, list[dict[str, Any]]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", "-j", str(jobs), str(root)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1, 2) or not done.stdout:
        raise SystemExit(f"power-check -j {jobs} failed ({done.returncode}): {done.stderr[:400]}")
    return elapsed, json.loads(done.stdout)


def verdicts(result: dict[str, Any]) -> tuple[Any, ...]:
    # results.checksums left out: a copy's sha1 are re-recorded for its changed bytes, so a source that
    # matches only after line-ending normalisation (INFO) has copies that match outright (PASS).
    checks = tuple(
        (c["id"], c["verdict"]) for c in result.get("checks") or () if c["id"] != "results.checksums"
    )
    return result.get("valid"), result.get("compliant"), checks


def stage_breakdown(folder: Path) -> list[tuple[str, float]]:
    """One folder's check, stage by stage (each stage's parse is the one the full check then reuses)."""
    # Warm: a process's first Python-to-Arrow conversion imports pandas (~0.4 s), paid once per run.
    InferenceKind().check(folder, None)
    folder_files = InferenceFolder(folder)
    stages: list[tuple[str, Callable[[], object]]] = [
        ("read every file", lambda: [folder_files.files.read(str(p.relative_to(folder))) for p in folder.rglob("*") if p.is_file()]),
        ("sha1 of every file", lambda: [folder_files.files.sha1(str(p.relative_to(folder))) for p in folder.rglob("*") if p.is_file()]),
        ("LoadGen logs (scan)", lambda: [folder_files.loadgen_log(run).get("power_begin") for run in (TESTING_DIR, RANGING_DIR)]),
        ("testing spl.txt (fast path)", lambda: folder_files.samples(TESTING_DIR, detail=False)),
        ("ranging spl.txt (every column)", lambda: folder_files.samples(RANGING_DIR, detail=True)),
        ("client.json + server.json", lambda: [folder_files.session_record(n) for n in (CLIENT_JSON_NAME, SERVER_JSON_NAME)]),
        ("PTD console log", folder_files.console_log),
    ]  # fmt: skip
    timed = []
    for name, stage in stages:
        start = time.perf_counter()
        stage()
        timed.append((name, time.perf_counter() - start))
    start = time.perf_counter()
    InferenceKind().check(folder, None)
    timed.append(("whole check, fresh (parses again)", time.perf_counter() - start))
    return timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200, help="copies of each of the three folders")
    parser.add_argument("--keep", type=Path, help="build the tree in this folder and keep it")
    args = parser.parse_args()
    cores = default_workers()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch) / "tree"
        start = time.perf_counter()
        folders, origin, size = make_tree(root, args.copies)
        print(f"tree: {len(folders)} folders, {size / 1e6:.1f} MB, {len(folders) - len(origin)} broken "
              f"(made in {time.perf_counter() - start:.1f} s)")  # fmt: skip
        floor_seconds(root)  # warm the page cache: every measurement below reads from memory
        floor = min(floor_seconds(root) for _ in range(3))
        one_s, one = power_check(root, 1)
        many_s, many = power_check(root, cores)
        _fixture_s, fixtures = power_check(FIXTURES, 1)
        by_source = {Path(r["path"]).name: verdicts(r) for r in fixtures}
        same_verdicts = sum(
            verdicts(r) == by_source[origin[Path(r["path"])].name] for r in one if Path(r["path"]) in origin
        )
        unusable = sum(1 for r in one if r.get("unusable"))
        print(f"floor (read + sha1 every byte, 1 process): {floor:7.3f} s   {size / floor / 1e6:7.0f} MB/s")
        for label, seconds in (("-j 1", one_s), (f"-j {cores}", many_s)):
            print(f"power-check --json {label:5}: {seconds:7.3f} s   {size / seconds / 1e6:7.0f} MB/s   "
                  f"{seconds / len(folders) * 1000:6.2f} ms/folder   {seconds / floor:5.2f} x the floor")  # fmt: skip
        print(f"-j 1 and -j {cores} outputs identical: {one == many}; {len(one)} results, {unusable} unusable; "
              f"{same_verdicts} of {len(origin)} intact copies got their source's verdicts")  # fmt: skip
        sample = next(f for f in folders if f in origin and "a100" in f.as_posix())
        print(f"one folder ({sample.parent.name}), stage by stage:")
        for name, seconds in stage_breakdown(sample):
            print(f"  {name:36} {seconds * 1000:7.2f} ms")
    return 0 if one == many and same_verdicts == len(origin) else 1


if __name__ == "__main__":
    sys.exit(main())
