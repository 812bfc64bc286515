"""`make demo`: the whole joulebench chain on this machine, from a workload to joules per query.

    python examples/demo.py [--scenario SingleStream|MultiStream|Offline|Server] [--duration 8]

1. a director (`power-director`) that launches a PTD-compatible daemon (`power-analyzer-ptd`, device
   type 0: the simulated meter) for each session and records it over the PTD protocol;
2. the client (`power-client run`), running a small system under test on the real MLPerf LoadGen
   (`examples/loadgen_sut.py`, `mlcommons-loadgen`) twice (ranging, testing);
3. `power-check` on the folder the client assembled, under the rule set it detects (`joulebench`).

With `--clock-skew` the SUT's clock is played ahead of the director's; the real LoadGen stamps with the
system clock, so that run uses the synthetic LoadGen stand-in (`examples/synthetic_workload.py`).

Everything listens on 127.0.0.1 only. The result, the simulator's ground truth beside it, and the
folder (`demo-output/<scenario>/performance`) are printed at the end. Every process the demo started
is stopped when it ends, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from analyzers.formats.mlperf_layout import DETAIL_LOG, TESTING_DIR

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, without relying on the install

from analyzers.simulated.control import ENV_CONTROL, append_load_step  # noqa: E402
from analyzers.simulated.truth import GroundTruth  # noqa: E402
from rules.inference.loadgen_log import read_loadgen_log  # noqa: E402

WORKLOAD = ROOT / "examples" / "loadgen_sut.py"
SKEWED_WORKLOAD = ROOT / "examples" / "synthetic_workload.py"
"""LoadGen stamps its logs with the system clock: a skewed SUT clock needs the stand-in."""
ENV_TRUTH = "JOULEBENCH_SIM_TRUTH"
TOKEN_ENV = "JOULEBENCH_TOKEN"
# A server idles at a good fraction of its load. Much lower, and the idle seconds inside Go…Stop sit far
# down the current range fixed for the load: PTD's per-sample uncertainty passes 1 % there, as on a real meter.
IDLE_WATTS = 200.0
STARTUP_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class DemoResult:
    scenario: str
    folder: Path
    check: dict[str, Any]
    check_status: int
    truth_energy_per_query_j: float
    truth_avg_power_w: float
    wall_s: float
    report: Path | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run the joulebench chain end to end on a simulated meter.")
    parser.add_argument(
        "--scenario", default="SingleStream", choices=["SingleStream", "MultiStream", "Offline", "Server"]
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of queries per run (default 8)")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "demo-output", help="where results go (default demo-output/)"
    )
    parser.add_argument(
        "--settle", type=float, default=1.0, help="director settle time in seconds (default 1)"
    )
    parser.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="S",
        help="pretend the SUT clock runs S seconds ahead of the director's (client and LoadGen logs)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run_demo(
            args.scenario, args.duration, args.output, args.settle, args.clock_skew, quiet=args.json
        )
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result_json(result), indent=2))
    else:
        print_result(result, sys.stdout)
    return 0 if result.check_status == 0 else 1


class DemoError(Exception):
    """A step of the chain failed; the message says which and where its output is."""


def run_demo(
    scenario: str, duration_s: float, output: Path, settle_s: float, skew_s: float = 0.0, quiet: bool = False
) -> DemoResult:
    """The chain once; with `quiet` the client's own output goes to `client-output.log`, not the terminal.

    `skew_s` plays a SUT whose clock runs ahead of the director's: the client and the LoadGen logs use
    it, the meter and the ground truth keep true time, so the result shows the offset being corrected.
    """
    started = time.monotonic()
    base = output / scenario
    if base.exists():
        shutil.rmtree(base)  # the demo's own previous output for this scenario
    base.mkdir(parents=True)
    control, truth = base / "load_control.txt", base / "truth.parquet"
    append_load_step(control, IDLE_WATTS, at_ns=0)  # controlled from the start: idle until the workload runs
    env = {**os.environ, ENV_CONTROL: str(control), ENV_TRUTH: str(truth), TOKEN_ENV: secrets.token_hex(16)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    folder = base / "performance"
    with processes() as started_processes:
        # The director launches the PTD daemon per session with PTDaemon's own command line, as the
        # reference director launches SPEC PTDaemon; its console output becomes power/ptd_logs.txt.
        ptd_port = _free_port()
        config = base / "director.toml"
        config.write_text(_director_config(base / "director-data", ptd_port, settle_s), encoding="utf-8")
        director = started_processes.start(
            [sys.executable, "-m", "power_director.cli", "--config", str(config)], env, base / "director.log"
        )
        url = _wait_for_director(director, base / "director.log")
        workload = _workload(scenario, duration_s, base / "loadgen", skew_s)
        client = [sys.executable, "-m", "power_client.cli", "run", "--director", url, "--output", str(folder)]
        client += [
            "--loadgen-logs",
            str(base / "loadgen"),
            "--label",
            "demo",
            "--rounds",
            "16",
            "--simulate-clock-skew",
            str(skew_s),
            "--max-clock-offset",
            str(abs(skew_s) + 0.2),
            "--",
            *workload,
        ]
        # The client prints its progress and summary here; on Ctrl-C it gets 30 s to close the phase.
        client_log = base / "client-output.log" if quiet else None
        status = started_processes.start(client, env, client_log, signal.SIGINT, grace_s=30.0).wait()
        if status != 0:
            raise DemoError(
                f"power-client failed (exit status {status}); the director's log is {base / 'director.log'}"
            )
    # The report beside the submission's performance/ folder, where MLPerf keeps what is not checked.
    report = base / "performance-extras" / "report"
    check = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", "--report", str(report), str(folder)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    try:
        outcome = json.loads(check.stdout)[0]
    except (ValueError, IndexError):
        raise DemoError(
            f"power-check gave no result: {check.stderr.strip() or check.stdout.strip()}"
        ) from None
    truth_j, truth_w = _ground_truth(truth, folder, round(skew_s * 1e9))
    written = report / "index.html"
    return DemoResult(
        scenario,
        folder,
        outcome,
        check.returncode,
        truth_j,
        truth_w,
        time.monotonic() - started,
        written if written.is_file() else None,
    )


class _Processes:
    """The demo's child processes, stopped in reverse order of starting: client, director, daemon.

    Each runs in its own session, so a Ctrl-C at the terminal reaches only the demo, which then stops
    them in that order: the client first (SIGINT: it ends its workload and closes the director's phase),
    then the director and the daemon (SIGTERM).
    """

    def __init__(self) -> None:
        self.running: list[tuple[subprocess.Popen[bytes], signal.Signals, float]] = []

    def start(
        self,
        command: list[str],
        env: dict[str, str],
        log: Path | None,
        stop_signal: signal.Signals = signal.SIGTERM,
        grace_s: float = STOP_GRACE_S,
    ) -> subprocess.Popen[bytes]:
        output = log.open("wb") if log is not None else None
        try:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
        self.running.append((process, stop_signal, grace_s))
        return process

    def stop_all(self) -> None:
        for process, stop_signal, grace_s in reversed(self.running):
            if process.poll() is None:
                process.send_signal(stop_signal)
                try:
                    process.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def processes() -> Iterator[_Processes]:
    started = _Processes()
    try:
        yield started
    finally:
        started.stop_all()


def _workload(scenario: str, duration_s: float, logs: Path, skew_s: float) -> list[str]:
    common = ["--scenario", scenario, "--output-dir", str(logs), "--lead", "1.1", "--tail", "1.1"]
    common += ["--idle-watts", str(IDLE_WATTS)]
    if skew_s:
        return [
            sys.executable,
            str(SKEWED_WORKLOAD),
            *common,
            "--duration",
            str(duration_s),
            "--clock-skew-s",
            str(skew_s),
        ]
    return [sys.executable, str(WORKLOAD), *common, "--min-duration", str(duration_s)]


def _director_config(data_dir: Path, ptd_port: int, settle_s: float) -> str:
    daemon = Path(sys.executable).with_name("power-analyzer-ptd")
    if not daemon.exists():
        raise DemoError(f"{daemon} is missing: run `make demo` so the project is installed in .venv")
    return (
        "# Written by examples/demo.py: a director on an ephemeral loopback port; it launches a PTD daemon\n"
        "# (device type 0: the simulated meter) for each session, as the reference director launches PTDaemon.\n"
        "[server]\n"
        'host = "127.0.0.1"\n'
        "port = 0\n"
        f"data_dir = {json.dumps(str(data_dir))}\n\n"
        "[session]\n"
        f"settle_s = {settle_s}\n\n"
        "[[analyzers]]\n"
        'name = "simulated"\n'
        "[analyzers.launch]\n"
        f"executable = {json.dumps(str(daemon))}\n"
        "device_type = 0\n"
        'device_port = "simulated"\n'
        f"network_port = {ptd_port}\n"
    )


def _free_port() -> int:
    # The daemon needs a port number up front; a just-released ephemeral port is free in practice.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_director(process: subprocess.Popen[bytes], log: Path) -> str:
    """The director's URL, read from the line it prints once it listens (it was given port 0)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        found = re.search(
            r"listening on (http://[0-9.]+:\d+)", log.read_text(encoding="utf-8", errors="replace")
        )
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise DemoError(f"the director exited with status {process.returncode}; see {log}")
        time.sleep(0.1)
    raise DemoError(f"the director did not start within {STARTUP_TIMEOUT_S:.0f} s; see {log}")


def _ground_truth(truth_path: Path, folder: Path, skew_ns: int) -> tuple[float, float]:
    """The simulator's exact energy per query and average power over the testing LoadGen window.

    The LoadGen times are on the (possibly skewed) SUT clock; the truth is on true time."""
    truth = GroundTruth.load(truth_path)
    log = read_loadgen_log(folder / TESTING_DIR / DETAIL_LOG)
    begin_ns, end_ns = log.time_ns("power_begin") - skew_ns, log.time_ns("power_end") - skew_ns
    energy_j = truth.energy_j(begin_ns, end_ns)
    return energy_j / float(log.get("result_query_count")), energy_j / ((end_ns - begin_ns) / 1e9)


def result_json(result: DemoResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "folder": str(result.folder),
        "wall_s": result.wall_s,
        "truth_energy_per_query_j": result.truth_energy_per_query_j,
        "truth_avg_power_w": result.truth_avg_power_w,
        "check_status": result.check_status,
        "check": result.check,
        "report": str(result.report) if result.report else None,
    }


def print_result(result: DemoResult, out: TextIO) -> None:
    check = result.check
    value, unit = check.get("value"), check.get("unit", "")
    w, samples, window = check.get("avg_power_w"), check.get("samples"), check.get("window_s")
    truth_per_query = result.truth_energy_per_query_j
    print("", file=out)
    print(f"scenario   {result.scenario}", file=out)
    if w is not None:
        print(f"power      {w:.2f} W ({samples} samples in the {window:.3f} s LoadGen window)", file=out)
    per_query_j = check.get("energy_per_query_j")
    if value is not None and unit.endswith("/query"):
        scale = 1e3 if unit.startswith("mJ") else 1.0
        print(
            f"energy     {value:.4g} {unit} (simulator truth {truth_per_query * scale:.4g} {unit}, "
            f"{_percent(per_query_j, truth_per_query)})",
            file=out,
        )
    elif w is not None:
        print(
            f"energy     {w * window:.4g} J in the window, {truth_per_query:.4g} J per query by the truth "
            f"(power vs truth {result.truth_avg_power_w:.2f} W: {_percent(w, result.truth_avg_power_w)})",
            file=out,
        )
    if check.get("clock_offset_s") is not None:
        print(
            f"clock      director − client {check['clock_offset_s'] * 1e3:+.3f} ms "
            f"± {check['alignment_uncertainty_s'] * 1e3:.3f} ms, applied to the LoadGen window",
            file=out,
        )
    if check.get("loadgen_version"):
        print(f"loadgen    {check['loadgen_version']}", file=out)
    metric = "VALID" if check.get("valid") else "INVALID: " + "; ".join(check.get("errors", []))
    print(f"verdict    metric {metric}", file=out)
    if check.get("compliance_ruleset"):
        failed = [c for c in check.get("checks", []) if c.get("verdict") == "FAIL"]
        state = "compliant" if check.get("compliant") else f"NOT compliant ({len(failed)} FAIL)"
        print(
            f"           compliance under {check['compliance_ruleset']}: {state} (measurement soundness; "
            f"a demo run is too short to submit: power-check --ruleset joulebench-strict says so)",
            file=out,
        )
        for failure in failed:
            print(f"           FAIL {failure['id']}: {failure['message']}", file=out)
    print(f"folder     {result.folder}", file=out)
    if result.report is not None:
        print(f"report     {result.report} (open it in a browser)", file=out)
    print(f"wall time  {result.wall_s:.1f} s", file=out)


def _percent(measured: float | None, truth: float) -> str:
    if measured is None or not truth:
        return "n/a"
    return f"{(measured / truth - 1) * 100:+.2f} %"


if __name__ == "__main__":
    sys.exit(main())
