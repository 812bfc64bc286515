"""The other two analyzer kinds (an in-process driver, a daemon the director launches), the result
read by `power-check`, testing with known ranges, and an analyzer that cannot be reached."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_director_session import read_spl, run_session
from test_director_support import INTERVAL_MS, director_config, free_port, running_director

from analyzers.formats.ptd_time import format_ptd_time
from analyzers.simulated import append_load_step
from analyzers.trace import Trace
from rules import cli as power_check
from rules.inference.synthetic import write_detail_log

REPO = Path(__file__).resolve().parents[1]
PTD_EXECUTABLE = REPO / ".venv" / "bin" / "power-analyzer-ptd"
NS = 1_000_000_000


def test_in_process_driver_session_checked_by_power_check(tmp_path: Path) -> None:
    control = tmp_path / "load.txt"
    append_load_step(control, 300.0, at_ns=time.time_ns())
    analyzer = {
        "name": "sim",
        "driver": "simulated",
        "options": {"channels": 3, "seed": 7, "control_path": str(control), "truth_path": ""},
    }
    with running_director(director_config(tmp_path / "data", analyzer)) as running:
        replies = run_session(running, "inproc")
        infos = running.ok("GET", "/analyzers")
    session_id = replies["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    console = (folder / "power" / "ptd_logs.txt").read_text()
    # Our daemon's own console, written in the director's process: the checker's anchors, in order.
    activated = console.index("Uncertainty checking for SimulatedWT310 is activated")
    assert (
        activated
        < console.index(f"Go with mark '{session_id}_ranging'")
        < console.index(f"Go with mark '{session_id}_testing'")
    )
    assert "joulebench PTD-compatible daemon (not SPEC PTDaemon)" in console
    assert infos == [
        {
            "name": "sim",
            "endpoint": "simulated",
            "connected": True,
            "model": "SimulatedWT310",
            "channels": 3,
            "last_reading_ns": infos[0]["last_reading_ns"],
            "last_watts": infos[0]["last_watts"],
            "error": None,
        }
    ]
    testing, _lines = read_spl(folder / "run_1" / "spl.txt")
    assert infos[0]["last_reading_ns"] == int(testing.time_ns[-1])
    assert infos[0]["last_watts"] == pytest.approx(float(testing.watts[-1]), abs=1e-6)
    assert float(np.mean(testing.watts)) == pytest.approx(300.0, rel=0.02)

    # A performance folder: the director's spl.txt files next to LoadGen logs whose power window lies
    # inside each phase (begin 0.25 s after Go was acknowledged, end 0.1 s before stop arrived).
    performance = tmp_path / "SingleStream" / "performance"
    windows = {}
    for mode, directory in (("ranging", "ranging"), ("testing", "run_1")):
        begin_ns = replies[f"{mode}_start"]["sampling_started"]["wall_ns"] + NS // 4
        end_ns = replies[f"{mode}_stop"]["stop_received"]["wall_ns"] - NS // 10
        windows[mode] = (begin_ns, end_ns)
        (performance / directory).mkdir(parents=True)
        shutil.copy(folder / directory / "spl.txt", performance / directory / "spl.txt")
        values = {
            "test_datetime": dt.datetime.fromtimestamp(begin_ns / NS, tz=dt.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "effective_scenario": "SingleStream",
            "power_begin": format_ptd_time(begin_ns),
            "power_end": format_ptd_time(end_ns),
            "result_validity": "VALID",
            "result_query_count": 100,
        }
        write_detail_log(performance / directory / "mlperf_log_detail.txt", values)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = power_check.main([str(performance), "--json", "--ruleset", "mlperf-inference-v5.1"])
    assert status == 0, output.getvalue()
    [result] = json.loads(output.getvalue())

    # Recomputed from the Parquet trace: samples strictly inside the window (LoadGen's ms precision).
    whole = Trace.from_parquet(folder / "trace.parquet")
    begin_ns, end_ns = (t // 1_000_000 * 1_000_000 for t in windows["testing"])
    inside = whole.with_mark(f"{session_id}_testing").between(begin_ns, end_ns)
    window_s = (end_ns - begin_ns) / NS
    assert result["samples"] == len(inside) >= 5
    assert result["avg_power_w"] == pytest.approx(float(np.mean(inside.watts)), rel=1e-12)
    assert result["unit"] == "mJ/query"
    assert result["value"] == pytest.approx(float(np.mean(inside.watts)) * window_s / 100 * 1000, rel=1e-9)
    assert result["valid"] is True
    assert result["ranging_avg_power_w"] == pytest.approx(300.0, rel=0.02)


def launched_analyzer(port: int, **launch: Any) -> dict[str, Any]:
    """`power-analyzer-ptd` over the simulated meter (PTD device type 0), launched per session."""
    settings = {
        "executable": str(PTD_EXECUTABLE),
        "device_type": 0,
        "device_port": "dummy",
        "network_port": port,
    }
    return {"name": "wt333", "launch": {**settings, **launch}}


def test_launched_daemon_session(tmp_path: Path) -> None:
    port = free_port()
    analyzer = launched_analyzer(port, channel=[1, 3])
    with running_director(director_config(tmp_path / "data", analyzer)) as running:
        replies = run_session(running, "launched")
    folder = tmp_path / "data" / "sessions" / replies["session_id"]
    server = json.loads((folder / "power" / "server.json").read_text())
    command = [
        str(PTD_EXECUTABLE),
        "-l",
        str(folder / "ptd_data.log"),
        "-p",
        str(port),
        "-c",
        "1,3",
        "0",
        "dummy",
    ]
    assert server["ptd_config"] == [
        {
            "command": command,
            "device_type": 0,
            "interface_flag": "",
            "dc_flag": None,
            "device_port": "dummy",
            "channel": [1, 3],
        }
    ]
    # ptd_logs.txt is the launched daemon's console output, from its banner to its shutdown.
    console = (folder / "power" / "ptd_logs.txt").read_text()
    assert console.startswith("Selected power meter 'SimulatedWT310' from joulebench driver 'simulated'")
    assert f"Redirecting data output to file {folder / 'ptd_data.log'}" in console
    assert "Uncertainty checking for SimulatedWT310 is activated" in console
    assert console.rstrip().endswith("Shutting down")
    # The daemon's data log lies next to the MLPerf folders, with both phases' marks.
    data_log = (folder / "ptd_data.log").read_text()
    testing, lines = read_spl(folder / "run_1" / "spl.txt")
    assert testing.channel_count == 3
    assert sum(f",Mark,{replies['session_id']}_testing," in line for line in data_log.splitlines()) == len(
        lines
    )
    assert [m["cmd"] for m in server["ptd_messages"]][-2:] == ["SR,V,Auto", "SR,A,Auto"]


def test_testing_with_known_ranges_is_not_submission_valid(tmp_path: Path) -> None:
    with running_director(
        director_config(tmp_path / "data", {"name": "sim", "driver": "simulated"})
    ) as running:
        session_id = running.create_session("known")["session_id"]
        started = running.ok(
            "POST", f"/sessions/{session_id}/testing/start", {"max_volts": 240.0, "max_amps": 2.5}
        )
        time.sleep(0.5)
        running.ok("POST", f"/sessions/{session_id}/testing/stop")
        info = running.ok("GET", f"/sessions/{session_id}")
        done = running.ok("POST", f"/sessions/{session_id}/done")
    assert started["exchange"]["cmd"] == f"session,{session_id},start,testing,240.0,2.5"
    assert info["submission_valid"] is False
    assert done["files"] == [
        "power/ptd_logs.txt",
        "power/server.json",
        "power/server.log",
        "recording/sim.arrows",
        "run_1/spl.txt",
        "session.json",
        "trace.parquet",
    ]
    server = json.loads((tmp_path / "data" / "sessions" / session_id / "power" / "server.json").read_text())
    assert list(server["phases"]) == ["testing"]
    assert [m["cmd"] for m in server["ptd_messages"]] == [
        "Hello",
        "Identify",
        "RR",
        "SR,V,240.000000",
        "SR,A,2.500000",
        f"Go,{INTERVAL_MS},0,{session_id}_testing",
        # The current reference: the run's figures before Stop, then the read from RL,*,* on (a
        # one-channel daemon refuses it), then the figures again.
        "Watts",
        "Uncertainty",
        "Stop",
        "RL,*,*",
        "RL",
        "Uncertainty",
        "Watts",
        "SR,V,Auto",
        "SR,A,Auto",
    ]
    assert server["joulebench"]["submission_valid"] is False


def test_unreachable_analyzer_fails_the_session_not_the_director(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    analyzer = {"name": "wt", "ptd": f"ptd://127.0.0.1:{port}?connect_timeout=0.5"}
    with running_director(director_config(tmp_path / "data", analyzer)) as running:
        response = running.post("/sessions", {"label": "down", "client_uuid": str(uuid.uuid4())})
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert (
            detail.startswith("session ")
            and f"127.0.0.1:{port}" in detail
            and "no PTD daemon answered" in detail
        )
        [info] = running.get("/sessions").json()
        assert info["state"] == "failed" and f"127.0.0.1:{port}" in info["failure"]
        assert running.get("/time", token=None).status_code == 200
        analyzers = running.get("/analyzers").json()
        assert analyzers[0]["connected"] is False and f"127.0.0.1:{port}" in analyzers[0]["error"]
        # The failed session is final: a new one may be created (and fails the same way, clearly).
        time.sleep(1.0)  # session ids have one-second resolution
        again = running.post("/sessions", {"label": "down", "client_uuid": str(uuid.uuid4())})
        assert again.status_code == 503
