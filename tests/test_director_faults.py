"""Faults with real processes: a PTD daemon killed (`kill -9`) or frozen (`SIGSTOP`) mid-testing, and
the director itself killed with `kill -9` mid-testing and started again on the same data directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from test_director_session import run_session
from test_director_support import TOKEN, director_config, free_port, running_director

from analyzers.formats.ptd_time import format_ptd_time
from analyzers.formats.sample_reply import decode_sample_lines
from power_director.recorder import describe_time
from power_director.storage import RecordingReader

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
NS = 1_000_000_000


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited with {process.returncode}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout_s} s")


@contextmanager
def daemon_process(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`power-analyzer serve` with the simulated meter, in its own process."""
    command = [str(BIN / "power-analyzer"), "serve", "--driver", "simulated", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        # Ready when it answers, not just listens: the director's command timeout here is 1 s.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as probe:
            probe.sendall(b"Hello\r\n")
            assert probe.makefile("rb").readline().startswith(b"Hello, PTDaemon here!")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def wait_for_state(
    running: object, session_id: str, state: str, timeout_s: float = 15.0
) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info: dict[str, object] = running.ok("GET", f"/sessions/{session_id}")  # type: ignore[attr-defined]
        if info["state"] == state:
            return info
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} did not become {state}")


def start_testing(running: object, label: str) -> str:
    session_id: str = running.create_session(label)["session_id"]  # type: ignore[attr-defined]
    running.ok("POST", f"/sessions/{session_id}/ranging/start")  # type: ignore[attr-defined]
    time.sleep(0.5)
    running.ok("POST", f"/sessions/{session_id}/ranging/stop")  # type: ignore[attr-defined]
    running.ok("POST", f"/sessions/{session_id}/testing/start")  # type: ignore[attr-defined]
    time.sleep(1.0)
    return session_id


def test_an_analyzer_killed_or_frozen_mid_testing_fails_its_session_only(tmp_path: Path) -> None:
    port = free_port()
    url = f"ptd://127.0.0.1:{port}?connect_timeout=1&command_timeout=1"
    config = director_config(tmp_path / "data", {"name": "wt", "ptd": url, "device_type": 49})
    with running_director(config) as running:
        # 1. kill -9 of the daemon in the middle of the testing run.
        with daemon_process(port) as daemon:
            killed = start_testing(running, "killed")
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            killed_ns = time.time_ns()
            info = wait_for_state(running, killed, "failed")
        late = running.post(f"/sessions/{killed}/testing/stop")
        assert running.get("/time", token=None).status_code == 200

        # 2. Back on the same port: reconnected by the next session, which this time freezes (SIGSTOP).
        with daemon_process(port) as daemon:
            frozen = start_testing(running, "frozen")
            daemon.send_signal(signal.SIGSTOP)
            frozen_info = wait_for_state(running, frozen, "failed")
            # Until the failed session has given its analyzer back, a new one is refused (409); the
            # director waits `release_wait_s` for that first (off here: the release is slow on purpose).
            running.director.release_wait_s = 0.0
            refused = running.post("/sessions", {"label": "early", "client_uuid": str(uuid.uuid4())})
            daemon.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 20
            while running.director.sessions[frozen].releasing and time.monotonic() < deadline:
                time.sleep(0.05)
        # 3. And once more: a whole session works.
        with daemon_process(port):
            healthy = run_session(running, "healthy")
            analyzers = running.ok("GET", "/analyzers")

    folder = tmp_path / "data" / "sessions" / killed
    recorded = RecordingReader(folder / "recording" / "wt.arrows").read(f"{killed}_testing")
    lines = (folder / "run_1" / "spl.txt").read_text().splitlines()
    # The samples before the kill are there: in the recording and in run_1/spl.txt, the same ones.
    assert len(recorded) >= 5 and len(lines) == len(recorded)
    assert (
        decode_sample_lines("\n".join(lines).encode()).time_ns.tolist()
        == (recorded.time_ns // 1_000_000 * 1_000_000).tolist()
    )
    assert int(recorded.time_ns[-1]) < killed_ns
    last = recorded.take(np.flatnonzero(recorded.valid_mask())[-1:])
    reason = str(info["failure"])
    assert reason.startswith(f"testing run: analyzer wt ({url}) failed: 127.0.0.1:{port}: ")
    assert reason.endswith(
        f"; last good sample at {describe_time(int(last.time_ns[0]))} ({float(last.watts[0]):.6f} W); "
        f"{len(recorded) + len(RecordingReader(folder / 'recording' / 'wt.arrows').read(f'{killed}_ranging'))}"
        " samples kept in recording/wt.arrows"
    )
    assert late.status_code == 409 and late.json()["detail"].endswith(f"is failed ({reason})")
    assert format_ptd_time(int(last.time_ns[0])) in lines[-1] or lines[-1].split(",")[3] == "-2.000000"

    assert refused.status_code == 409 and refused.json()["detail"] == (
        f"session {frozen} failed and is still releasing its analyzers; retry in a few seconds"
    )
    frozen_reason = str(frozen_info["failure"])
    assert frozen_reason.startswith(f"testing run: analyzer wt ({url}) failed: 127.0.0.1:{port}: ")
    assert "samples kept in recording/wt.arrows" in frozen_reason
    assert (tmp_path / "data" / "sessions" / frozen / "run_1" / "spl.txt").stat().st_size > 0

    assert healthy["done"]["exchange"]["reply"] == "OK"
    assert analyzers[0]["connected"] is False and analyzers[0]["error"] is None  # released after done


def simulated_director_toml(tmp_path: Path) -> Path:
    toml = tmp_path / "director.toml"
    toml.write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n\n[session]\nsettle_s = 0.1\ninterval_ms = 100\n\n'
        '[[analyzers]]\nname = "sim"\ndriver = "simulated"\n'
    )
    return toml


@contextmanager
def director_process(toml: Path) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """`power-director --config TOML` in its own process, and an HTTP client with the token."""
    port = free_port()
    command = [str(BIN / "power-director"), "--config", str(toml), "--port", str(port)]
    environment = {**os.environ, "JOULEBENCH_TOKEN": TOKEN}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_for_port(port, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", headers=headers, timeout=30) as http:
            yield process, http
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def into_testing(http: httpx.Client, label: str, testing_s: float) -> str:
    """A session ranged and testing for `testing_s`, over the director's API; its id."""
    created = http.post("/sessions", json={"label": label, "client_uuid": str(uuid.uuid4())})
    session_id: str = created.json()["session_id"]
    for call in ("ranging/start", "ranging/stop", "testing/start"):
        assert http.post(f"/sessions/{session_id}/{call}").status_code == 200
        time.sleep(0.5)
    time.sleep(testing_s)
    return session_id


def test_the_director_killed_mid_testing_keeps_all_but_the_last_second(tmp_path: Path) -> None:
    data = tmp_path / "data"
    toml = simulated_director_toml(tmp_path)
    with director_process(toml) as (process, http):
        session_id = into_testing(http, "crash", 2.0)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_ns = time.time_ns()

    folder = data / "sessions" / session_id
    testing_mark = f"{session_id}_testing"
    recorded = RecordingReader(folder / "recording" / "sim.arrows").read(testing_mark)
    # At 10 samples a second for ~2.5 s, all but (at most) the last second reached the disk.
    assert len(recorded) >= 15
    assert int(recorded.time_ns[-1]) >= killed_ns - NS

    with director_process(toml) as (_process, http):
        listed = {s["session_id"]: s for s in http.get("/sessions").json()}
        files = {f["path"] for f in http.get(f"/sessions/{session_id}/files").json()["files"]}
        spl = http.get(f"/sessions/{session_id}/files/run_1/spl.txt").text
        stop = http.post(f"/sessions/{session_id}/testing/stop")
        fresh = http.post("/sessions", json={"label": "after", "client_uuid": str(uuid.uuid4())})
        done = http.post(f"/sessions/{fresh.json()['session_id']}/done")

    info = listed[session_id]
    assert info["state"] == "failed"
    assert info["failure"] == (
        "interrupted: the director stopped while the session was testing; the samples recorded up to "
        f"{describe_time(int(RecordingReader(folder / 'recording' / 'sim.arrows').read().time_ns[-1]))} "
        f"are kept (sim: {len(RecordingReader(folder / 'recording' / 'sim.arrows').read())} in recording/)"
    )
    assert {
        "ranging/spl.txt",
        "run_1/spl.txt",
        "recording/sim.arrows",
        "trace.parquet",
        "session.json",
    } <= files
    lines = spl.splitlines()
    assert len(lines) == len(recorded) and all(f",Mark,{testing_mark}" in line for line in lines)
    assert lines[-1].split(",")[1] == format_ptd_time(int(recorded.time_ns[-1]))
    assert stop.status_code == 409 and "earlier run of the director" in stop.json()["detail"]
    assert fresh.status_code == 200 and done.status_code == 200
    assert "director restarted" in (folder / "power" / "server.log").read_text().lower()


def test_the_director_stopped_mid_testing_records_a_failure_not_a_done(tmp_path: Path) -> None:
    data = tmp_path / "data"
    toml = simulated_director_toml(tmp_path)
    with director_process(toml) as (process, http):
        session_id = into_testing(http, "stopped", 1.5)
        signalled_ns = time.time_ns()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    folder = data / "sessions" / session_id
    reason = "the director was stopped during testing"
    record = json.loads((folder / "session.json").read_text())
    server = json.loads((folder / "power" / "server.json").read_text())
    log = (folder / "power" / "server.log").read_text()
    assert (record["state"], record["failure"]) == ("failed", reason)
    assert (server["joulebench"]["state"], server["joulebench"]["failure"]) == ("failed", reason)
    assert server["joulebench"]["submission_valid"] is True  # nothing invalid was done; it failed
    assert f"[ERROR] {reason}" in log
    assert f"'session,{session_id},done'" not in log and "Sending reply to client 'OK'" in log
    assert [m["cmd"].rsplit(",", 1)[-1] for m in server["messages"][1:]] == ["ranging", "ranging", "testing"]
    # Every sample up to the signal is in the recording and in run_1/spl.txt, the same ones.
    testing_mark = f"{session_id}_testing"
    recorded = RecordingReader(folder / "recording" / "sim.arrows").read(testing_mark)
    lines = (folder / "run_1" / "spl.txt").read_text().splitlines()
    assert len(recorded) >= 15 and len(lines) == len(recorded)
    assert signalled_ns - NS // 2 <= int(recorded.time_ns[-1])
    assert lines[-1].split(",")[1] == format_ptd_time(int(recorded.time_ns[-1]))

    # Started again, the director lists the session as failed, with the same reason: not open.
    with director_process(toml) as (_process, http):
        listed = {s["session_id"]: s for s in http.get("/sessions").json()}
        fresh = http.post("/sessions", json={"label": "after", "client_uuid": str(uuid.uuid4())})
    assert (listed[session_id]["state"], listed[session_id]["failure"]) == ("failed", reason)
    assert fresh.status_code == 200
