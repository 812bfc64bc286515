"""Write synthetic MLPerf Training benchmark folders (result logs, node and switch power logs).

For tests (unet3d, non-converged runs, damaged lines) and the scale benchmark (a thousand nodes). The
layout and line shapes follow real v4.0 submissions: rank-prefixed result logs, compact marker lines and
`power_reading` lines as `mlperf_logging` writes them. Node files are written with numpy-formatted
blocks so that generating half a gigabyte does not dominate the benchmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RUN_START_MS = 1_715_257_378_825


@dataclass(frozen=True)
class SyntheticRunSpec:
    ttt_s: float
    converged: bool = True
    node_watts: float = 2500.0


def result_line(key: str, value: object, time_ms: int, metadata: dict[str, object] | None = None) -> str:
    record = {
        "namespace": "",
        "time_ms": time_ms,
        "event_type": "POINT_IN_TIME",
        "key": key,
        "value": value,
        "metadata": metadata or {"file": "train.py", "lineno": 1},
    }
    return "0: :::MLLOG " + json.dumps(record)


def marker_line(key: str, time_ms: int) -> str:
    return (
        f':::MLLOG {{"namespace":"","time_ms":{time_ms},"event_type":"INTERVAL_START",'
        f'"key":"{key}","value":"null","metadata":""}}'
    )


def reading_lines(times_ms: np.ndarray, watts: np.ndarray) -> str:
    """`power_reading` lines for many readings at once (integers print as integers, like real logs)."""
    head = ':::MLLOG {"namespace": "", "time_ms": '
    middle = ', "event_type": "POINT_IN_TIME", "key": "power_reading", "value": '
    tail = ', "metadata": ""}\n'
    values = np.char.mod("%.6g", watts)
    times = np.char.mod("%d", times_ms)
    return "".join(np.char.add(np.char.add(np.char.add(np.char.add(head, times), middle), values), tail))


def write_result(path: Path, benchmark: str, start_ms: int, ttt_ms: int, converged: bool) -> None:
    status = "success" if converged else "aborted"
    lines = [
        "+ echo 'Beginning trial'",
        result_line("submission_benchmark", benchmark, start_ms - 60_000),
        result_line("run_start", None, start_ms),
        "1: some interleaved stdout from another rank",
        result_line("run_stop", 0.92, start_ms + ttt_ms, {"status": status, "samples_count": 3072}),
        "ENDING TIMING RUN",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_node_log(
    path: Path,
    start_ms: int,
    duration_s: float,
    interval_s: float,
    watts: float | np.ndarray,
    rng: np.random.Generator | None = None,
    stop_at_start: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One node's log; returns (reading times in ms, watts) so a test can recompute the energy itself."""
    count = max(1, int(duration_s / interval_s))
    times_ms = start_ms + np.round(np.arange(1, count + 1) * interval_s * 1000).astype(np.int64)
    if isinstance(watts, np.ndarray):
        power = watts
    else:
        noise = rng.integers(-50, 50, count) if rng is not None else np.zeros(count, dtype=np.int64)
        power = (watts + noise).astype(np.float64)
    stop_ms = start_ms if stop_at_start else int(times_ms[-1])
    with path.open("w", encoding="utf-8") as out:
        out.write(marker_line("power_measurement_start", start_ms) + "\n")
        out.write(reading_lines(times_ms, power))
        out.write(
            marker_line("power_measurement_stop", stop_ms).replace("INTERVAL_START", "INTERVAL_END") + "\n"
        )
    return times_ms, power


def write_switch_log(path: Path, start_ms: int, watts: float) -> None:
    record = {
        "namespace": "",
        "time_ms": start_ms,
        "event_type": "POINT_IN_TIME",
        "key": "interconnect_power_est",
        "value": watts,
        "metadata": "",
    }
    path.write_text(":::MLLOG " + json.dumps(record) + "\n", encoding="utf-8")


def write_benchmark(
    folder: Path,
    benchmark: str,
    runs: list[SyntheticRunSpec],
    nodes: int = 1,
    switches: int = 0,
    interval_s: float = 2.0,
    scaling: float | None = None,
    seed: int = 0,
    run_start_ms: int = RUN_START_MS,
    stop_at_start: bool = True,
) -> Path:
    """A benchmark folder with one result log per run; every node reads `node_watts` (± noise).

    `run_start_ms` dates the runs (and so picks the round); `stop_at_start` writes the node logs'
    `power_measurement_stop` at the start's time, as the real v4.0 SMC logs do, else at the last reading."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index, spec in enumerate(runs, start=1):
        name = f"result_{index}"
        start_ms = run_start_ms + index * 10_000_000
        ttt_ms = round(spec.ttt_s * 1000)
        write_result(folder / f"{name}.txt", benchmark, start_ms, ttt_ms, spec.converged)
        run_dir = folder / "power" / name
        run_dir.mkdir(parents=True, exist_ok=True)
        for node in range(nodes):
            # The power window opens a little before run_start and closes after run_stop, as in real logs.
            write_node_log(
                run_dir / f"node_{node}.txt",
                start_ms - 30_000,
                spec.ttt_s + 60,
                interval_s,
                spec.node_watts,
                rng,
                stop_at_start=stop_at_start,
            )
        for switch in range(switches):
            write_switch_log(run_dir / f"sw_{switch}.txt", start_ms - 30_000, 400.0)
    if scaling is not None:
        (folder / "scaling.json").write_text(json.dumps({"scaling_factor": scaling}), encoding="utf-8")
    return folder
