"""Benchmark: the MLPerf Training energy of one run on 1,024 nodes × 1 h × 1 Hz (≈ 3.7 M readings, ≈ 0.5 GB).

For each node count: generate the benchmark folder in a temporary directory (never in the repository);
time `check_training` and, in the same process on the same files, a naive baseline (per-line `json.loads`,
the way the MLCommons summarizer reads MLLOG); then measure peak memory of `check_training` in a fresh
child process (rise of its resident set size, and tracemalloc's peak). Memory must stay flat with node
count because the check streams one node file at a time. Finally a linear fit of time against node count
extrapolates to 10k+ nodes. The node logs are also read on a pool of worker processes (`-j`) and on a
Dask LocalCluster (start-up included), each checked to give the in-process result.

    python benchmarks/bench_training_scale.py [--nodes 64 1024] [--hours 1] [--hz 1] [--no-baseline]
                                              [--workers N] [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rules.executor import DaskCluster, Executor, ProcessPool, default_workers
from rules.training.kind import check_training
from rules.training.synthetic import RUN_START_MS, marker_line, write_result

CHILD = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
from rules.executor import DaskCluster, Executor, ProcessPool, default_workers
from rules.training.kind import check_training
folder = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = check_training(folder)
seconds = time.perf_counter() - start
rise_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
tracemalloc.start()
check_training(folder)
peak = tracemalloc.get_traced_memory()[1]
maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rise_kib": rise_kib, "maxrss_kib": maxrss_kib, "traced_peak": peak}))
"""

_HEAD = b':::MLLOG {"namespace": "", "time_ms": '
_MIDDLE = b', "event_type": "POINT_IN_TIME", "key": "power_reading", "value": '
_TAIL = b', "metadata": ""}\n'


def reading_block(times_ms: np.ndarray, watts: np.ndarray) -> bytes:
    """`power_reading` lines for 13-digit times and 4-digit integer watts, built as one byte matrix."""
    n = len(times_ms)
    parts = [
        np.broadcast_to(np.frombuffer(_HEAD, np.uint8), (n, len(_HEAD))),
        _digits(times_ms, 13),
        np.broadcast_to(np.frombuffer(_MIDDLE, np.uint8), (n, len(_MIDDLE))),
        _digits(watts, 4),
        np.broadcast_to(np.frombuffer(_TAIL, np.uint8), (n, len(_TAIL))),
    ]
    return np.ascontiguousarray(np.hstack(parts)).tobytes()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def generate(folder: Path, nodes: int, hours: float, hz: float, seed: int = 0) -> tuple[int, int]:
    """One run of `nodes` node logs; returns (readings, bytes written)."""
    rng = np.random.default_rng(seed)
    name = "result_1"
    ttt_ms = round(hours * 3600 * 1000)
    write_result(folder / f"{name}.txt", "llama2_70b_lora", RUN_START_MS, ttt_ms, True)
    run_dir = folder / "power" / name
    run_dir.mkdir(parents=True)
    count = round(hours * 3600 * hz)
    start_ms = RUN_START_MS
    times = start_ms + np.round(np.arange(1, count + 1) * 1000 / hz).astype(np.int64)
    start_line = (marker_line("power_measurement_start", start_ms) + "\n").encode()
    stop_line = (marker_line("power_measurement_stop", start_ms) + "\n").encode().replace(b"START", b"END")
    size = 0
    for node in range(nodes):
        watts = rng.integers(2000, 3000, count)
        data = start_line + reading_block(times, watts) + stop_line
        (run_dir / f"node_{node}.txt").write_bytes(data)
        size += len(data)
    return nodes * count, size


def baseline_energy_j(folder: Path) -> float:
    """The naive reader: `json.loads` on every MLLOG line, then the same backward-rectangle rule."""
    result = folder / "result_1.txt"
    times: dict[str, int] = {}
    for line in result.read_text().splitlines():
        if ":::MLLOG" in line:
            record = json.loads(line.split(":::MLLOG", 1)[1])
            times.setdefault(record["key"], record["time_ms"])
    ttt_ms = times["run_stop"] - times["run_start"]
    total = 0.0
    for node in sorted((folder / "power" / "result_1").glob("node_*.txt")):
        readings = []
        start = stop = None
        with node.open() as handle:
            for line in handle:
                record = json.loads(line.split(":::MLLOG", 1)[1])
                if record["key"] == "power_reading":
                    readings.append((record["time_ms"], record["value"]))
                elif record["key"] == "power_measurement_start" and start is None:
                    start = record["time_ms"]
                elif record["key"] == "power_measurement_stop":
                    stop = record["time_ms"]
        readings.sort()
        assert start is not None
        area, previous = 0.0, start
        for t, p in readings:
            area += p * (t - previous)
            previous = t
        end = max(stop or start, readings[-1][0])
        total += area * ttt_ms / (end - start)
    return total  # W·ms·(ms/ms) → J after /1000 below


@dataclass
class Figures:
    nodes: int
    readings: int
    size_bytes: int
    seconds: float
    baseline_seconds: float | None
    rise_mib: float
    maxrss_mib: float
    traced_peak_mib: float
    pool_seconds: float | None = None
    dask_seconds: float | None = None


def _spread(folder: Path, executor: Executor, expected: object) -> float:
    started = time.perf_counter()
    result = check_training(folder, node_executor=executor)
    seconds = time.perf_counter() - started
    assert result.to_json() == expected, "the workers' result differs from the in-process one"
    return seconds


def measure(
    nodes: int, hours: float, hz: float, baseline: bool, workers: int = 2, dask: bool = True
) -> Figures:
    with tempfile.TemporaryDirectory(prefix="joulebench-training-") as tmp:
        folder = Path(tmp) / "llama2_70b_lora"
        folder.mkdir()
        started = time.perf_counter()
        readings, size = generate(folder, nodes, hours, hz)
        print(
            f"  generated {nodes} nodes, {readings:,} readings, {size / 2**20:,.0f} MiB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        result = check_training(folder)
        seconds = time.perf_counter() - started
        baseline_seconds = None
        if baseline:
            started = time.perf_counter()
            expected_kj = baseline_energy_j(folder) / 1000 / 1000
            baseline_seconds = time.perf_counter() - started
            assert result.runs[0].energy_j is not None
            ours_kj = result.runs[0].energy_j / 1000
            assert math.isclose(ours_kj, expected_kj, rel_tol=1e-9), (ours_kj, expected_kj)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=True
        )
        memory = json.loads(child.stdout)
        expected = result.to_json()
        pool_seconds = _spread(folder, ProcessPool(workers), expected) if workers > 1 else None
        dask_seconds = _spread(folder, DaskCluster("local"), expected) if dask else None
    return Figures(
        nodes,
        readings,
        size,
        seconds,
        baseline_seconds,
        memory["rise_kib"] / 1024,
        memory["maxrss_kib"] / 1024,
        memory["traced_peak"] / 2**20,
        pool_seconds,
        dask_seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[64, 1024], help="node counts to measure")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--hz", type=float, default=1.0, help="readings per second per node")
    parser.add_argument("--no-baseline", action="store_true", help="skip the json.loads baseline")
    parser.add_argument("--workers", type=int, default=default_workers(), help="worker processes (-j)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    args = parser.parse_args()

    rows = []
    for nodes in sorted(args.nodes):
        print(f"{nodes} nodes × {args.hours:g} h × {args.hz:g} Hz")
        figures = measure(nodes, args.hours, args.hz, not args.no_baseline, args.workers, not args.no_dask)
        rows.append(figures)
        ratio = (
            f", baseline {figures.baseline_seconds:.2f} s → {figures.baseline_seconds / figures.seconds:.1f}× faster"
            if figures.baseline_seconds
            else ""
        )
        print(
            f"  check_training {figures.seconds:.2f} s ({figures.readings / figures.seconds / 1e6:.2f} M readings/s)"
            f"{ratio}; memory: RSS rise {figures.rise_mib:.1f} MiB (child max RSS {figures.maxrss_mib:.0f} MiB, "
            f"imports included), tracemalloc peak "
            f"{figures.traced_peak_mib:.1f} MiB"
        )
        for label, spread in (
            (f"{args.workers} worker processes", figures.pool_seconds),
            ("a Dask LocalCluster (start-up included)", figures.dask_seconds),
        ):
            if spread is not None:
                print(f"  on {label}: {spread:.2f} s ({figures.seconds / spread:.2f}× in-process)")

    print(
        "\nnodes  readings    MiB     ours_s  baseline_s  ratio  rss_rise_MiB  max_rss_MiB  traced_peak_MiB"
    )
    for f in rows:
        base = (
            f"{f.baseline_seconds:10.2f}  {f.baseline_seconds / f.seconds:5.1f}"
            if f.baseline_seconds
            else " " * 17
        )
        print(
            f"{f.nodes:5d}  {f.readings:9,d}  {f.size_bytes / 2**20:6.0f}  {f.seconds:8.2f}  {base}"
            f"  {f.rise_mib:12.1f}  {f.maxrss_mib:11.0f}  {f.traced_peak_mib:15.1f}"
        )
    if len(rows) >= 2:
        # Time is linear in node count (one file each); memory is that of one file, so it does not grow.
        n = np.array([f.nodes for f in rows], dtype=float)
        s = np.array([f.seconds for f in rows])
        per_node, fixed = np.polyfit(n, s, 1)
        bytes_per_node = rows[-1].size_bytes / rows[-1].nodes
        print("\nextrapolation (linear fit of time over node count; memory flat):")
        for target in (10_000, 16_384, 100_000):
            print(
                f"  {target:7,d} nodes: ~{fixed + per_node * target:7.0f} s per run on one core, "
                f"~{bytes_per_node * target / 2**30:6.1f} GiB of logs, peak memory "
                f"~{max(f.traced_peak_mib for f in rows):.0f} MiB traced"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
