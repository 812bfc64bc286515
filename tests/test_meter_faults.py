"""A meter that dies or goes silent mid-testing fails the session within seconds, and the client —
told by the director — stops the workload and exits 10, with the samples before the fault kept.

The daemon is `power-analyzer serve` in a process of its own (so `kill -9` and `SIGSTOP` are real),
the director runs with the default `ptd://` timeouts (30 s connect, 10 s reply), the client is
`power-client run` in a process of its own with a workload that would run for a minute.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_client_support import workload_command
from test_director_faults import daemon_process
from test_director_kinds import launched_analyzer
from test_director_support import RunningDirector, director_config_many, free_port, running_director
from test_ptd_client_support import ScriptedPtd, line, ptd_1_9_answer
from test_session_endings import client_argv, client_process, wait_for

from power_client.clock import SystemClock
from power_client.errors import EXIT_ANALYZER_FAILED
from power_client.session_watch import SessionWatch
from power_director.api import AnalyzerInfo

# Ranging: a short LoadGen stand-in. Testing: say who it is, then run for `seconds` (a minute here).
WORKLOAD = """
import os, pathlib, subprocess, sys, time
writer, logs, pid_file, seconds = sys.argv[1:5]
if os.environ["JOULEBENCH_PHASE"] == "ranging":
    subprocess.run([sys.executable, "-c", writer, logs, "0.3"], check=True)
else:
    pathlib.Path(pid_file).write_text(str(os.getpid()))
    time.sleep(float(seconds))
"""
FAULT_TO_EXIT_LIMIT_S = 10.0


def workload_argv(
    running: RunningDirector, tmp_path: Path, label: str, pid_file: Path, seconds: float, *options: str
) -> list[str]:
    logs = tmp_path / f"{label}-logs"
    argv = client_argv(running.url, tmp_path / label, logs, [])[:-1]  # without its "--"
    writer = workload_command(logs)[2]
    command = [sys.executable, "-c", WORKLOAD, writer, str(logs), str(pid_file), str(seconds)]
    return [*argv, *options, "--", *command]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def fault_mid_testing(
    running: RunningDirector, tmp_path: Path, fault: Any, label: str = "meter"
) -> dict[str, Any]:
    """Run the client, wait for testing, apply `fault()`, and time everything that follows."""
    pid_file = tmp_path / f"{label}.pid"
    process = client_process(workload_argv(running, tmp_path, label, pid_file, 60.0))
    count = len(running.ok("GET", "/sessions")) + 1  # type: ignore[arg-type]
    info = wait_for(running, "testing", count, timeout_s=60)
    time.sleep(1.5)
    faulted = time.monotonic()
    fault()
    _out, err = process.communicate(timeout=60)
    exited = time.monotonic()
    session_id = info["session_id"]
    stop_began = time.monotonic()
    stop = running.post(f"/sessions/{session_id}/testing/stop")
    stop_s = time.monotonic() - stop_began
    return {
        "status": process.returncode,
        "err": err.decode(),
        "fault_to_exit_s": exited - faulted,
        "info": running.ok("GET", f"/sessions/{session_id}"),
        "session_id": session_id,
        "stop": stop,
        "stop_s": stop_s,
        "workload_pid": int(pid_file.read_text()),
        "folder": tmp_path / "data" / "sessions" / session_id,
    }


def new_session_answer_s(running: RunningDirector) -> tuple[int, float]:
    began = time.monotonic()
    response = running.post(
        "/sessions", {"label": "next", "client_uuid": "0b7e3f4c-2d1a-4c5b-9e8f-7a6b5c4d3e2f"}
    )
    if response.status_code == 200:
        running.ok("POST", f"/sessions/{response.json()['session_id']}/abort", {"reason": "test over"})
    return response.status_code, time.monotonic() - began


def check_outcome(outcome: dict[str, Any], reason_start: str) -> None:
    failure = str(outcome["info"]["failure"])
    assert outcome["info"]["state"] == "failed"
    assert failure.startswith(reason_start), failure
    assert "samples kept in recording/" in failure and "last good sample at" in failure
    assert outcome["status"] == EXIT_ANALYZER_FAILED, outcome["err"]
    said = [line for line in outcome["err"].splitlines() if line.startswith("power-client:")]
    assert said == [f"power-client: the director failed the session during the testing run: {failure}"]
    assert outcome["fault_to_exit_s"] < FAULT_TO_EXIT_LIMIT_S
    assert not alive(outcome["workload_pid"])
    # The client's stop call is answered at once, with the recorder's reason (not the stop's own).
    assert outcome["stop"].status_code == 409 and outcome["stop"].json()["detail"].endswith(f"({failure})")
    assert outcome["stop_s"] < 2.0
    lines = (outcome["folder"] / "run_1" / "spl.txt").read_text().splitlines()
    assert len(lines) >= 10  # 1.5 s at 100 ms before the fault


@pytest.mark.parametrize("fault", ["kill -9", "SIGSTOP"])
def test_a_meter_killed_or_frozen_mid_testing_stops_the_client_within_seconds(
    tmp_path: Path, fault: str
) -> None:
    port = free_port()
    url = f"ptd://127.0.0.1:{port}"  # the default timeouts: 30 s to connect, 10 s for a reply
    config = director_config_many(tmp_path / "data", [{"name": "wt", "ptd": url, "device_type": 49}])
    with running_director(config) as running, daemon_process(port) as daemon:
        number = signal.SIGKILL if fault == "kill -9" else signal.SIGSTOP
        outcome = fault_mid_testing(running, tmp_path, lambda: daemon.send_signal(number))
        status, answer_s = new_session_answer_s(running)
        if fault == "SIGSTOP":
            daemon.send_signal(signal.SIGCONT)
    print(
        f"\n{fault}: fault to client exit {outcome['fault_to_exit_s']:.2f} s; stop call answered in "
        f"{outcome['stop_s']:.3f} s; new session {status} in {answer_s:.2f} s"
    )
    expected = f"testing run: analyzer wt ({url}) "
    check_outcome(
        outcome, expected + ("failed: 127.0.0.1" if fault == "kill -9" else "delivered no sample for 5 s")
    )
    assert status in (409, 503) and answer_s < 2.5


def test_one_of_two_analyzers_dying_fails_the_session_and_names_it(tmp_path: Path) -> None:
    port = free_port()
    url = f"ptd://127.0.0.1:{port}"
    analyzers = [{"name": "wt", "ptd": url, "device_type": 49}, {"name": "sim", "driver": "simulated"}]
    config = director_config_many(tmp_path / "data", analyzers)
    with running_director(config) as running, daemon_process(port) as daemon:
        outcome = fault_mid_testing(running, tmp_path, lambda: daemon.send_signal(signal.SIGKILL))
    check_outcome(outcome, f"testing run: analyzer wt ({url}) failed: 127.0.0.1")
    assert str(outcome["info"]["failure"]).endswith(
        "; the other analyzers (sim) recorded normally until then"
    )


def mute_daemon(request: str) -> list[bytes]:
    """PTDaemon 1.9 that takes every command and never has a sample (`Last 0 samples`)."""
    if request.startswith("SR,"):
        return [line(f"Range {request.split(',')[1]} changed")]
    return ptd_1_9_answer(request, ())


def test_a_daemon_that_answers_but_sends_no_samples_is_a_stall(tmp_path: Path) -> None:
    with ScriptedPtd(mute_daemon) as fake:
        url = f"ptd://127.0.0.1:{fake.port}"
        analyzer = {"name": "mute", "ptd": url, "device_type": 49}
        config = director_config_many(tmp_path / "data", [analyzer], analyzer_stall_s=1.0)
        with running_director(config) as running:
            session_id = running.create_session("mute")["session_id"]
            running.ok("POST", f"/sessions/{session_id}/testing/start", {"max_volts": 250, "max_amps": 2})
            began = time.monotonic()
            info = wait_for(running, "failed", 1, timeout_s=10)
            detected_s = time.monotonic() - began
    assert str(info["failure"]) == (
        f"testing run: analyzer mute ({url}) delivered no sample for 1 s while measuring "
        "(limit: session.analyzer_stall_s = 1); no good sample before it; 0 samples kept in recording/mute.arrows"
    )
    assert detected_s < 3.0


def test_finish_lets_the_workload_end_and_still_fails(tmp_path: Path) -> None:
    port = free_port()
    url = f"ptd://127.0.0.1:{port}"
    config = director_config_many(tmp_path / "data", [{"name": "wt", "ptd": url, "device_type": 49}])
    with running_director(config) as running, daemon_process(port) as daemon:
        options = ("--on-analyzer-failure", "finish")
        process = client_process(workload_argv(running, tmp_path, "finish", tmp_path / "pid", 4.0, *options))
        wait_for(running, "testing", 1, timeout_s=60)
        started = time.monotonic()
        daemon.send_signal(signal.SIGKILL)
        _out, err = process.communicate(timeout=60)
        ran_s = time.monotonic() - started
    assert process.returncode == EXIT_ANALYZER_FAILED
    assert (
        "power-client: the director failed the session during the testing run: testing run: analyzer wt"
        in err.decode()
    )
    assert ran_s >= 3.0  # the workload ran to its end (4 s from its start, not stopped at the fault)


class _Analyzers:
    """The one call `SessionWatch.reading` makes, answered from a list."""

    def __init__(self, infos: list[AnalyzerInfo]) -> None:
        self.infos = infos

    def analyzers(self) -> list[AnalyzerInfo]:
        return self.infos


def test_the_progress_line_never_shows_an_old_reading_as_current() -> None:
    clock = SystemClock()
    now_ns = clock.wall_ns()
    fresh = AnalyzerInfo(
        name="a", endpoint="e", connected=True, last_reading_ns=now_ns - 10**9, last_watts=80.25
    )
    stale = AnalyzerInfo(
        name="b", endpoint="e", connected=True, last_reading_ns=now_ns - 12 * 10**9, last_watts=9.0
    )
    director: Any = _Analyzers([fresh])
    watch = SessionWatch(director, "s", clock, stall_s=5.0)
    assert watch.reading() == "80.2 W"
    director.infos = [fresh, stale]
    assert watch.reading() == "no sample for 12 s"
    director.infos = []
    assert watch.reading() is None


def test_a_launched_daemon_that_dies_is_not_restarted_and_its_console_is_kept(tmp_path: Path) -> None:
    port = free_port()
    analyzer = launched_analyzer(port)
    with running_director(director_config_many(tmp_path / "data", [analyzer])) as running:
        session_id = running.create_session("launched")["session_id"]
        running.ok("POST", f"/sessions/{session_id}/testing/start", {"max_volts": 250, "max_amps": 2})
        time.sleep(1.0)
        link = running.director.sessions[session_id].analyzers.links[0]
        daemon = link.analyzer.daemon  # type: ignore[attr-defined]
        killed = time.monotonic()
        os.kill(daemon.pid, signal.SIGKILL)
        info = wait_for(running, "failed", 1, timeout_s=15)
        detected_s = time.monotonic() - killed
        time.sleep(1.0)  # nothing may start it again meanwhile
    assert detected_s < 3.0
    assert str(info["failure"]).startswith(f"testing run: analyzer wt333 (ptd://127.0.0.1:{port}) failed: ")
    console = (tmp_path / "data" / "sessions" / session_id / "power" / "ptd_logs.txt").read_text()
    assert console.count("Selected power meter 'SimulatedWT310'") == 1  # one daemon, never restarted
    assert "Go with mark" in console  # its console up to the kill is kept
