"""A small system under test on the real MLPerf LoadGen (`mlcommons-loadgen`, module `mlperf_loadgen`).

    python examples/loadgen_sut.py --scenario SingleStream --min-duration 8 --output-dir LOGS

LoadGen schedules the queries and writes its own logs (`mlperf_log_detail.txt` with `power_begin` /
`power_end`, `mlperf_log_summary.txt`, `mlperf_log_accuracy.json`); this SUT answers each query after
`--service-ms` on a worker thread, as an accelerator would, in any of the four scenarios. While
LoadGen runs, it raises the simulated meter's load (`JOULEBENCH_SIM_CONTROL` or `--control`) to
`--watts`, from `--lead` seconds before the test until `--tail` seconds after it, then back to
`--idle-watts`; without a control file it only runs LoadGen.

The settings are a short `user.conf` made from the command line: `--min-duration` seconds and
`--min-queries` (LoadGen calls the run VALID when both are met and the latency bound holds), the
expected latency (streams) or the target/expected QPS (Server/Offline) from `--service-ms`. MLPerf
Power requires a 600 s run for submission; that minimum is the rule set's business, not LoadGen's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from analyzers.formats.units import NS_PER_S
from analyzers.simulated.control import ENV_CONTROL, append_load_step

try:
    import mlperf_loadgen as lg
except ImportError:  # pragma: no cover - the demo and test extras install it
    lg = None

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
DEFAULT_WATTS = {"SingleStream": 250.0, "MultiStream": 300.0, "Server": 350.0, "Offline": 400.0}
SAMPLES_IN_LIBRARY = 1024
MULTISTREAM_SAMPLES_PER_QUERY = 8
MULTISTREAM_EARLY_STOPPING_QUERIES = 662
"""LoadGen 6 calls a MultiStream run INVALID with fewer queries ("Need to process at least 662 queries
for early stopping"): on a busy machine 3 s can fall a few short, so the minimum is asked for."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="A system under test on the real MLPerf LoadGen.")
    parser.add_argument("--scenario", choices=SCENARIOS, default="SingleStream")
    parser.add_argument("--output-dir", type=Path, required=True, help="where LoadGen writes its logs")
    parser.add_argument("--min-duration", type=float, default=8.0, help="LoadGen's min_duration, seconds")
    parser.add_argument("--min-queries", type=int, default=16, help="LoadGen's min_query_count")
    parser.add_argument(
        "--service-ms", type=float, default=4.0, help="time to answer one sample (one query of a stream)"
    )
    parser.add_argument("--workers", type=int, default=4, help="threads answering queries")
    parser.add_argument("--control", type=Path, help=f"load-control file (default: ${ENV_CONTROL})")
    parser.add_argument("--watts", type=float, help="power while LoadGen runs (default: per scenario)")
    parser.add_argument("--idle-watts", type=float, default=80.0, help="power after the run (default 80)")
    parser.add_argument("--lead", type=float, default=1.0, help="seconds at full power before the test")
    parser.add_argument("--tail", type=float, default=1.0, help="seconds at full power after the test")
    return parser


class SystemUnderTest:
    """Answers every sample of a query after the service time, on a pool of worker threads."""

    def __init__(self, scenario: str, service_s: float, workers: int) -> None:
        self._scenario = scenario
        self._service_s = service_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sut")
        self._lock = threading.Lock()
        self.answered = 0

    def issue_queries(self, samples: Sequence[object]) -> None:
        # Offline hands over every sample at once: answer them in batches, as a real device would.
        if self._scenario == "Offline":
            batch = max(1, len(samples) // 16)
            for start in range(0, len(samples), batch):
                self._pool.submit(
                    self._answer, list(samples[start : start + batch]), len(samples[start : start + batch])
                )
        else:
            self._pool.submit(self._answer, list(samples), 1)

    def _answer(self, samples: list[object], units: int) -> None:
        time.sleep(self._service_s * units)
        responses = [lg.QuerySampleResponse(sample.id, 0, 0) for sample in samples]  # type: ignore[attr-defined]
        lg.QuerySamplesComplete(responses)
        with self._lock:
            self.answered += len(samples)

    def flush_queries(self) -> None:
        """LoadGen's end-of-test flush: nothing is held back here."""

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def test_settings(args: argparse.Namespace) -> object:
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, args.scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_duration_ms = round(args.min_duration * 1000)
    settings.min_query_count = args.min_queries
    service_ns = round(args.service_ms * 1e6)
    if args.scenario == "SingleStream":
        settings.single_stream_expected_latency_ns = service_ns
    elif args.scenario == "MultiStream":
        # A query's samples are answered together, in one service time (a batch of 8 on a device).
        settings.multi_stream_expected_latency_ns = service_ns
        settings.multi_stream_samples_per_query = MULTISTREAM_SAMPLES_PER_QUERY
        settings.min_query_count = max(args.min_queries, MULTISTREAM_EARLY_STOPPING_QUERIES)
    elif args.scenario == "Server":
        # Half of what the workers could serve, so the latency bound holds with room to spare.
        settings.server_target_qps = 0.5 * args.workers / (args.service_ms / 1000)
        settings.server_target_latency_ns = 50 * service_ns
    else:
        settings.offline_expected_qps = args.workers / (args.service_ms / 1000)
    return settings


def run(args: argparse.Namespace) -> None:
    args.output_dir.mkdir(parents=True, exist_ok=True)
    sut = SystemUnderTest(args.scenario, args.service_ms / 1000, args.workers)
    sut_handle = lg.ConstructSUT(sut.issue_queries, sut.flush_queries)
    qsl_handle = lg.ConstructQSL(SAMPLES_IN_LIBRARY, SAMPLES_IN_LIBRARY, lambda _: None, lambda _: None)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(args.output_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    try:
        lg.StartTestWithLogSettings(sut_handle, qsl_handle, test_settings(args), log_settings)
    finally:
        lg.DestroyQSL(qsl_handle)
        lg.DestroySUT(sut_handle)
        sut.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if lg is None:
        print("loadgen_sut: mlperf_loadgen is not installed (pip install mlcommons-loadgen)", file=sys.stderr)
        return 2
    if args.min_duration <= 0 or args.min_queries < 1 or args.service_ms <= 0 or args.workers < 1:
        print(
            "loadgen_sut: --min-duration and --service-ms must be positive, --min-queries and "
            "--workers at least 1",
            file=sys.stderr,
        )
        return 2
    control = args.control or (Path(os.environ[ENV_CONTROL]) if os.environ.get(ENV_CONTROL) else None)
    watts = DEFAULT_WATTS[args.scenario] if args.watts is None else args.watts
    if control is not None:
        append_load_step(control, watts)
    time.sleep(args.lead)
    run(args)
    if control is not None:
        # The load stays up through the tail, as a process that is still logging and tearing down.
        append_load_step(control, args.idle_watts, at_ns=time.time_ns() + round(args.tail * NS_PER_S))
    time.sleep(args.tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
