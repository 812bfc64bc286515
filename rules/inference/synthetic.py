"""Write synthetic MLPerf Inference performance folders: LoadGen detail logs and PTD sample logs.

For tests (every scenario and log era from one recipe), benchmarks (a million-line `spl.txt`) and the
demo. The samples come from a seeded generator, so the expected metric can be recomputed by the
caller from `SyntheticRun.trace` without going through the parser under test.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.formats.mlperf_layout import DETAIL_LOG, RANGING_DIR, SAMPLE_LOG, SUMMARY_LOG, TESTING_DIR
from analyzers.formats.ptd_time import format_ptd_time
from analyzers.formats.sample_encode import write_merged_spl, write_spl
from analyzers.formats.units import NS_PER_S
from analyzers.trace import ChannelBlock, Trace


@dataclass
class SyntheticRun:
    folder: Path
    trace: Trace
    begin_ns: int
    end_ns: int
    log_values: dict[str, Any]
    analyzer_traces: list[Trace] = field(default_factory=list)


def mllog_line(key: str, value: Any, time_ms: float) -> str:
    record = {
        "key": key,
        "value": value,
        "time_ms": round(time_ms, 6),
        "namespace": "mlperf::logging",
        "event_type": "POINT_IN_TIME",
        "metadata": {
            "is_error": False,
            "is_warning": False,
            "file": "loadgen.cc",
            "line_no": 0,
            "pid": 1,
            "tid": 1,
        },
    }
    return ":::MLLOG " + json.dumps(record)


def write_detail_log(path: Path, values: dict[str, Any], extra_lines: tuple[str, ...] = ()) -> None:
    lines = [mllog_line(key, value, float(i)) for i, (key, value) in enumerate(values.items())]
    path.write_text("\n".join([*lines, *extra_lines]) + "\n", encoding="utf-8")


def synthetic_trace(
    start_ns: int,
    count: int,
    interval_s: float = 1.0,
    base_watts: float = 300.0,
    channels: int = 0,
    mark: str = "synthetic_testing",
    seed: int = 0,
) -> Trace:
    """A plausible load: a base level with slow variation and noise; with channels, the total is their sum."""
    rng = np.random.default_rng(seed)
    time_ns = start_ns + np.round(np.arange(count) * interval_s * NS_PER_S).astype(np.int64)
    phase = np.arange(count) / max(count, 1) * 2 * np.pi
    parts = max(channels, 1)
    blocks = []
    for _ in range(parts):
        watts = np.round(base_watts / parts * (1 + 0.05 * np.sin(phase)) + rng.normal(0, 0.5, count), 6)
        volts = np.round(230 + rng.normal(0, 0.2, count), 6)
        pf = np.round(np.clip(0.95 + rng.normal(0, 0.01, count), 0, 1), 6)
        amps = np.round(watts / (volts * pf), 6)
        blocks.append(ChannelBlock.from_columns(watts, volts=volts, amps=amps, pf=pf))
    if channels:
        total = np.round(np.sum([b.watts for b in blocks], axis=0), 6)
        return Trace.from_columns(time_ns, total, marks=mark, channels=blocks)
    only = blocks[0]
    return Trace.from_columns(time_ns, only.watts, volts=only.volts, amps=only.amps, pf=only.pf, marks=mark)


def write_performance_folder(
    folder: Path,
    effective_scenario: str = "SingleStream",
    duration_s: float = 60.0,
    interval_s: float = 1.0,
    base_watts: float = 300.0,
    channels: int = 0,
    analyzers: int = 1,
    query_count: int | None = 50_000,
    qps: float | None = None,
    throughput: dict[str, float] | None = None,
    validity: str = "VALID",
    start: dt.datetime = dt.datetime(2024, 2, 1, 12, 0, 0, tzinfo=dt.timezone.utc),
    seed: int = 0,
    newline: str = "\n",
) -> SyntheticRun:
    """A `performance/`-style folder with `run_1/` (and a matching `ranging/`): sampling starts 5 s before
    `power_begin` and ends 5 s after `power_end`, as a real director's settle times make it."""
    begin_ns = int(start.timestamp()) * NS_PER_S + 123_000_000
    end_ns = begin_ns + round(duration_s * NS_PER_S)
    count = int((duration_s + 10) / interval_s)
    first_ns = begin_ns - 5 * NS_PER_S
    values: dict[str, Any] = {
        "test_datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "effective_scenario": effective_scenario,
        "effective_samples_per_query": 8 if effective_scenario == "MultiStream" else 1,
        "power_begin": format_ptd_time(begin_ns),
        "power_end": format_ptd_time(end_ns),
        "result_validity": validity,
    }
    if query_count is not None:
        values["result_query_count"] = query_count
    if qps is not None:
        values["result_qps_with_loadgen_overhead"] = qps
    values.update(throughput or {})
    traces = [
        synthetic_trace(first_ns, count, interval_s, base_watts / analyzers, channels, seed=seed + k)
        for k in range(analyzers)
    ]
    for mode in (RANGING_DIR, TESTING_DIR):
        run = folder / mode
        run.mkdir(parents=True, exist_ok=True)
        write_detail_log(run / DETAIL_LOG, values)
        (run / SUMMARY_LOG).write_text(f"Result is : {validity}\n", encoding="utf-8")
        if analyzers > 1:
            write_merged_spl(run / SAMPLE_LOG, traces, newline=newline)
        else:
            write_spl(run / SAMPLE_LOG, traces[0], newline=newline)
    if analyzers > 1:
        total = np.sum([t.watts for t in traces], axis=0)
        merged = Trace.from_columns(traces[0].time_ns, total, marks="synthetic_testing")
    else:
        merged = traces[0]
    return SyntheticRun(folder, merged, begin_ns, end_ns, values, traces)
