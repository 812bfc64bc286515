"""Every way a `power-client run` can fail ends its session, so the next run starts without help.

One real director (uvicorn in a thread, the simulated meter in-process, a 2 s client timeout)
serves a row of client runs that fail in each way a user has met — workload exit 1, a missing
binary, a missing LoadGen folder, two LoadGen logs, SIGINT, SIGTERM, `kill -9` of the client — and
then one that succeeds with a workload longer than the client timeout (heartbeats keep it open).
The exit-status cases run `power_client.cli.main` in this process; the signal cases run the client
as a process of its own, as a user's shell or CI runner would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from test_client_support import free_port, workload_command
from test_director_support import TOKEN, RunningDirector, director_config, running_director

from power_client.cli import main
from power_client.clock import SystemClock
from power_client.errors import (
    EXIT_INTERRUPTED,
    EXIT_NO_LOADGEN_LOG,
    EXIT_NO_OPEN_SESSION,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_WORKLOAD_FAILED,
)
from power_client.heartbeat import beat_interval
from power_client.session_client import DirectorClient
from power_client.session_run import _abort

CLIENT_TIMEOUT_S = 2.0
SIMULATED = {"name": "sim", "driver": "simulated"}
# Two runs of a LoadGen stand-in into two folders: two different detail logs from one run.
TWO_LOGS = """
import subprocess, sys
for folder in sys.argv[2:]:
    subprocess.run([sys.executable, "-c", sys.argv[1], folder, "0.05"], check=True)
"""


def client_argv(url: str, out: Path, logs: Path, command: list[str]) -> list[str]:
    """A run whose label is its output folder's name (session ids are per second and label)."""
    return [
        "run",
        "--director",
        url,
        "--output",
        str(out),
        "--loadgen-logs",
        str(logs),
        "--label",
        out.name,
        "--rounds",
        "4",
        "--",
        *command,
    ]


def sessions(running: RunningDirector) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = running.ok("GET", "/sessions")  # type: ignore[assignment]
    return listed


def wait_for(running: RunningDirector, state: str, count: int, timeout_s: float = 20.0) -> dict[str, Any]:
    """The `count`-th session once it is in `state`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = sessions(running)
        if len(listed) >= count and listed[count - 1]["state"] == state:
            return listed[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"session {count} did not become {state}: {sessions(running)}")


def client_process(argv: list[str]) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "JOULEBENCH_TOKEN": TOKEN}
    return subprocess.Popen(
        [sys.executable, "-m", "power_client.cli", *argv],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_every_failed_run_ends_its_session_and_the_next_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    config = director_config(tmp_path / "data", SIMULATED, client_timeout_s=CLIENT_TIMEOUT_S)
    outcomes: dict[str, tuple[int, dict[str, Any], str]] = {}
    writer = workload_command(tmp_path / "unused", 0.1)[2]

    with running_director(config) as running:
        in_process = {
            "exit 1": ([sys.executable, "-c", "import sys; sys.exit(1)"], "logs"),
            # An out-of-memory kill, say (a missing binary is caught before the session: test_bad_inputs).
            "workload killed": ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"], "logs"),
            "missing LoadGen folder": ([sys.executable, "-c", "pass"], "nowhere"),
            "two LoadGen logs": (
                [
                    sys.executable,
                    "-c",
                    TWO_LOGS,
                    writer,
                    str(tmp_path / "two" / "a"),
                    str(tmp_path / "two" / "b"),
                ],
                "two",
            ),
        }
        for count, (case, (command, logs)) in enumerate(in_process.items(), start=1):
            status = main(client_argv(running.url, tmp_path / f"out{count}", tmp_path / logs, command))
            outcomes[case] = (status, wait_for(running, "failed", count), capsys.readouterr().err)

        # Signals: the client in a process of its own, stopped while the ranging workload runs.
        for count, (case, number) in enumerate(
            (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM), ("kill -9", signal.SIGKILL)), start=5
        ):
            argv = client_argv(running.url, tmp_path / f"out{count}", tmp_path / f"logs{count}", [])
            process = client_process(argv + workload_command(tmp_path / f"logs{count}", 30.0))
            wait_for(running, "ranging", count)
            time.sleep(0.5)
            signalled = time.monotonic()
            process.send_signal(number)
            _out, err = process.communicate(timeout=30)
            info = wait_for(running, "failed", count, timeout_s=CLIENT_TIMEOUT_S + 10)
            outcomes[case] = (process.returncode, info, err.decode())
            outcomes[case][1]["seconds"] = time.monotonic() - signalled

        # And a run whose workload outlasts the client timeout: the heartbeat keeps it open.
        status = main(
            client_argv(running.url, tmp_path / "good", tmp_path / "good-logs", [])
            + workload_command(tmp_path / "good-logs", CLIENT_TIMEOUT_S * 1.5)
        )
        good = sessions(running)[-1]
        final_err = capsys.readouterr().err

    def failure(case: str) -> str:
        return str(outcomes[case][1]["failure"])

    def said(case: str) -> list[str]:
        """What the client told the user (its progress lines aside)."""
        return [line for line in outcomes[case][2].splitlines() if line.startswith("power-client:")]

    assert outcomes["exit 1"][0] == EXIT_WORKLOAD_FAILED
    assert failure("exit 1").startswith(
        f"aborted by the client: the workload {sys.executable!r} exited with status 1"
    )
    assert failure("exit 1").endswith("(during the ranging run)")
    assert outcomes["workload killed"][0] == EXIT_WORKLOAD_FAILED
    assert failure("workload killed").startswith(
        f"aborted by the client: the workload {sys.executable!r} exited with status -9"
    )
    # The folder did not exist: the client made it, and the workload wrote nothing there.
    assert outcomes["missing LoadGen folder"][0] == EXIT_NO_LOADGEN_LOG
    assert failure("missing LoadGen folder") == (
        f"aborted by the client: no LoadGen log from the ranging run under {tmp_path / 'nowhere'}: there is "
        "no mlperf_log_detail.txt that has power_begin/power_end inside the run (during the ranging run)"
    )
    assert outcomes["two LoadGen logs"][0] == EXIT_NO_LOADGEN_LOG
    assert "produced 2 different LoadGen logs" in failure("two LoadGen logs")
    # Each of them told the user one sentence, and nothing about a session left open.
    for case in ("exit 1", "workload killed", "missing LoadGen folder", "two LoadGen logs"):
        assert len(said(case)) == 1 and outcomes[case][2].splitlines()[-1] == said(case)[0], case

    assert outcomes["SIGINT"][0] == EXIT_INTERRUPTED
    assert (
        failure("SIGINT")
        == "aborted by the client: power-client was stopped by SIGINT during the ranging run"
    )
    assert said("SIGINT") == ["power-client: stopped by SIGINT"]
    assert outcomes["SIGTERM"][0] == EXIT_TERMINATED
    assert (
        failure("SIGTERM")
        == "aborted by the client: power-client was stopped by SIGTERM during the ranging run"
    )
    assert said("SIGTERM") == ["power-client: stopped by SIGTERM"]
    # The signalled workloads were ended with their client: none lived to write its LoadGen log.
    assert not list((tmp_path / "logs5").glob("*")) and not list((tmp_path / "logs6").glob("*"))

    assert outcomes["kill -9"][0] == -signal.SIGKILL
    assert failure("kill -9") == (
        f"no word from the client for {CLIENT_TIMEOUT_S:g} s (session.client_timeout_s); "
        "what was recorded until then is kept"
    )
    # Counted from the client's last heartbeat, which came up to one beat interval before the kill.
    earliest_s = CLIENT_TIMEOUT_S - beat_interval(CLIENT_TIMEOUT_S)
    assert earliest_s <= outcomes["kill -9"][1]["seconds"] < CLIENT_TIMEOUT_S + 3

    assert status == EXIT_OK, final_err
    assert good["state"] == "done" and good["failure"] is None
    assert len({info["session_id"] for _s, info, _e in outcomes.values()} | {good["session_id"]}) == 8
    # The ranging samples of an aborted run are kept, in its folder on the director.
    spl = tmp_path / "data" / "sessions" / str(outcomes["SIGTERM"][1]["session_id"]) / "ranging" / "spl.txt"
    assert len(spl.read_text().splitlines()) >= 4


def test_power_client_abort_ends_the_open_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    with running_director(director_config(tmp_path / "data", SIMULATED)) as running:
        first = running.create_session("left")["session_id"]
        running.ok("POST", f"/sessions/{first}/ranging/start")
        refused = running.post(
            "/sessions", {"label": "next", "client_uuid": "4c4d3b0e-6a39-4f0e-9d7e-2f1c6a1b2c3d"}
        )
        by_default = main(["abort", "--director", running.url])
        by_default_out = capsys.readouterr().out
        none_left = main(["abort", "--director", running.url])
        none_left_err = capsys.readouterr().err
        second = running.create_session("named")["session_id"]
        named = main(["abort", "--director", running.url, "--session", second, "--reason", "wrong cable"])
        again = main(["abort", "--director", running.url, "--session", second])
        again_err = capsys.readouterr().err
        infos = {s["session_id"]: s for s in sessions(running)}
    assert refused.status_code == 409 and refused.json()["detail"] == (
        f"session {first} is still ranging; end it with: power-client abort --session {first}"
    )
    assert by_default == EXIT_OK
    assert (
        by_default_out
        == f"session {first} is failed: aborted by the client: ended by hand with power-client abort\n"
    )
    assert infos[first]["state"] == "failed"
    assert none_left == EXIT_NO_OPEN_SESSION
    assert none_left_err == f"power-client: the director at {running.url} has no open session\n"
    assert named == EXIT_OK and infos[second]["failure"] == "aborted by the client: wrong cable"
    assert again == 8 and again_err.endswith(
        f"session {second} is already failed (aborted by the client: wrong cable)\n"
    )
    log = (tmp_path / "data" / "sessions" / first / "power" / "server.log").read_text()
    assert f"Got command from the client 'session,{first},abort'" in log
    assert "[ERROR] aborted by the client: ended by hand with power-client abort" in log


def test_an_abort_that_cannot_reach_the_director_says_how_the_session_ends(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status = StringIO()
    with DirectorClient(url, TOKEN, SystemClock()) as director:
        _abort(director, "2026-01-02_03-04-05_x", "the workload failed", 60.0, status)
    assert status.getvalue() == (
        f"power-client: session 2026-01-02_03-04-05_x is still open on the director (cannot reach the "
        f"director at {url}: [Errno 111] Connection refused); the director ends it after 60 s without "
        "word from this client, or end it with: power-client abort --session 2026-01-02_03-04-05_x\n"
    )
