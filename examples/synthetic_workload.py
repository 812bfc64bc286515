"""A stand-in for an MLPerf Inference benchmark: it loads the simulated meter and writes LoadGen's logs.

The demo runs the real LoadGen (`examples/loadgen_sut.py`); this stand-in stays where a test needs
exact control LoadGen does not give: a SUT clock run ahead of true time (`--clock-skew-s`), an exact
window length, logs of an older LoadGen.

    python examples/synthetic_workload.py --scenario SingleStream --duration 8 --output-dir LOGS

What a real run does, in miniature: the system warms up (`--lead`), LoadGen issues queries for
`--duration` seconds between `power_begin` and `power_end`, then the process finishes (`--tail`). The
power drawn is set through the simulated meter's load-control file (`JOULEBENCH_SIM_CONTROL` or
`--control`): `--watts` from the start of the warm-up until the end of the tail, `--idle-watts`
after. The logs are LoadGen's formats: `mlperf_log_detail.txt` (MLLOG lines, UTC `power_begin` and
`power_end`) and `mlperf_log_summary.txt`. The run is configured like a LoadGen `user.conf` that sets
`min_duration` to the run's length, so LoadGen would call it VALID; a power rule set still rejects
it for submission (MLPerf requires 600 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.formats.mlperf_layout import DETAIL_LOG, SUMMARY_LOG
from analyzers.formats.ptd_time import format_ptd_time
from analyzers.formats.units import NS_PER_S
from analyzers.simulated.control import ENV_CONTROL, append_load_step
from rules.inference.synthetic import mllog_line

LOADGEN_VERSION = "4.1 (joulebench synthetic)"


@dataclass(frozen=True)
class Scenario:
    """How one scenario's queries look; `latency_s` per query (streams) or the sample rate (Offline, Server)."""

    name: str
    watts: float
    samples_per_query: int
    latency_s: float = 0.0
    samples_per_s: float = 0.0


SCENARIOS = {
    "SingleStream": Scenario("SingleStream", watts=250.0, samples_per_query=1, latency_s=0.004),
    "MultiStream": Scenario("MultiStream", watts=300.0, samples_per_query=8, latency_s=0.032),
    "Offline": Scenario("Offline", watts=400.0, samples_per_query=1, samples_per_s=2000.0),
    "Server": Scenario("Server", watts=350.0, samples_per_query=1, samples_per_s=500.0),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="A synthetic LoadGen-like workload for the simulated meter.")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="SingleStream")
    parser.add_argument(
        "--duration", type=float, default=8.0, help="seconds between power_begin and power_end"
    )
    parser.add_argument("--output-dir", type=Path, required=True, help="where LoadGen's logs are written")
    parser.add_argument(
        "--control", type=Path, help=f"load-control file (default: ${ENV_CONTROL}; none: no load)"
    )
    parser.add_argument("--watts", type=float, help="power while running (default: per scenario)")
    parser.add_argument("--idle-watts", type=float, default=80.0, help="power after the run (default 80)")
    parser.add_argument(
        "--lead", type=float, default=1.5, help="warm-up seconds at full power before the first query"
    )
    parser.add_argument("--tail", type=float, default=1.5, help="seconds at full power after the last query")
    parser.add_argument(
        "--clock-skew-s",
        type=float,
        default=0.0,
        help="write LoadGen times on a clock this far ahead (tests)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration <= 0 or args.lead < 0 or args.tail < 0:
        print(
            "synthetic_workload: --duration must be positive, --lead and --tail not negative", file=sys.stderr
        )
        return 2
    scenario = SCENARIOS[args.scenario]
    watts = scenario.watts if args.watts is None else args.watts
    control = args.control or (Path(os.environ[ENV_CONTROL]) if os.environ.get(ENV_CONTROL) else None)
    skew_ns = round(args.clock_skew_s * NS_PER_S)
    started_mono = time.monotonic()
    if control is not None:
        append_load_step(control, watts)
    time.sleep(args.lead)
    begin_ns = time.time_ns()
    time.sleep(args.duration)
    end_ns = time.time_ns()
    if control is not None:
        # The load stays up through the tail, as a process that is still logging and tearing down.
        append_load_step(control, args.idle_watts, at_ns=end_ns + round(args.tail * NS_PER_S))
    time.sleep(args.tail)
    elapsed_ms = (time.monotonic() - started_mono) * 1e3
    values = loadgen_values(scenario, begin_ns + skew_ns, end_ns + skew_ns)
    write_logs(args.output_dir, scenario, values, elapsed_ms)
    return 0


def loadgen_values(scenario: Scenario, begin_ns: int, end_ns: int) -> dict[str, Any]:
    """The MLLOG keys LoadGen logs for this scenario, with query counts from the simulated rate."""
    window_s = (end_ns - begin_ns) / NS_PER_S
    if scenario.latency_s:
        queries = int(window_s / scenario.latency_s)
        latency_ns = round(scenario.latency_s * NS_PER_S)
    else:
        samples = int(window_s * scenario.samples_per_s)
        queries = 1 if scenario.name == "Offline" else samples
        latency_ns = round(NS_PER_S / scenario.samples_per_s)
    samples_total = queries * scenario.samples_per_query if scenario.name != "Offline" else samples
    start = dt.datetime.fromtimestamp(begin_ns / NS_PER_S, tz=dt.timezone.utc)
    values: dict[str, Any] = {
        "loadgen_version": LOADGEN_VERSION,
        "test_datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sut_name": "joulebench-synthetic",
        "requested_scenario": scenario.name,
        "requested_test_mode": "PerformanceOnly",
        "requested_min_duration_ms": round(window_s * 1e3),
        "effective_scenario": scenario.name,
        "effective_test_mode": "PerformanceOnly",
        "effective_samples_per_query": scenario.samples_per_query,
        "effective_min_duration_ms": round(window_s * 1e3),
        "generated_query_count": queries,
        "power_begin": format_ptd_time(begin_ns),
        "power_end": format_ptd_time(end_ns),
        "result_validity": "VALID",
        "result_min_duration_met": True,
        "result_min_queries_met": True,
        "result_query_count": queries,
    }
    if scenario.name == "Offline":
        values["result_samples_per_second"] = round(samples_total / window_s, 3)
    elif scenario.name == "Server":
        values["result_scheduled_samples_per_sec"] = round(samples_total / window_s, 3)
        values["result_completed_samples_per_sec"] = round(samples_total / window_s, 3)
    else:
        values["result_qps_with_loadgen_overhead"] = round(queries / window_s, 3)
    values["result_mean_latency_ns"] = latency_ns
    values["result_90.00_percentile_latency_ns"] = latency_ns
    values["result_99.00_percentile_latency_ns"] = latency_ns
    return values


def write_logs(folder: Path, scenario: Scenario, values: dict[str, Any], elapsed_ms: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # time_ms counts from LoadGen's start: the settings at 0, the window and results when they happened.
    timed = {"power_begin", "power_end"}
    lines = []
    for key, value in values.items():
        at_ms = elapsed_ms if key.startswith("result_") or key in timed else 0.0
        lines.append(mllog_line(key, value, at_ms))
    (folder / DETAIL_LOG).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / SUMMARY_LOG).write_text(summary_text(scenario, values), encoding="utf-8")
    (folder / "mlperf_log_accuracy.json").write_text("[\n]\n", encoding="utf-8")


def summary_text(scenario: Scenario, values: dict[str, Any]) -> str:
    rule = "=" * 48
    lines = [rule, "MLPerf Results Summary", rule, "SUT name : joulebench-synthetic"]
    lines += [f"Scenario : {scenario.name}", "Mode     : PerformanceOnly"]
    if scenario.name == "Offline":
        lines.append(f"Samples per second: {values['result_samples_per_second']}")
    elif scenario.name == "Server":
        lines.append(f"Completed samples per second    : {values['result_completed_samples_per_sec']}")
    else:
        lines.append(f"90th percentile latency (ns) : {values['result_90.00_percentile_latency_ns']}")
    lines += [f"Result is : {values['result_validity']}", "  Min duration satisfied : Yes"]
    lines += ["  Min queries satisfied : Yes", "", rule, "Additional Stats", rule]
    lines.append(f"Mean latency (ns)               : {values['result_mean_latency_ns']}")
    lines += ["", rule, "Test Parameters Used", rule]
    lines.append(f"samples_per_query : {scenario.samples_per_query}")
    lines.append(f"min_duration (ms): {values['effective_min_duration_ms']}")
    lines.append(f"min_query_count : {values['result_query_count']}")
    lines += ["", "No warnings encountered during test.", "", "No errors encountered during test.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
