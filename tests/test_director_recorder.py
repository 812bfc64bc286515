"""The recorder over real HTTP and PTD on loopback: two analyzers merged by time, the training export
read back by `power-check`, a client that vanished, and a data directory that cannot take a session.

Expected values are recomputed from the recordings and files the director wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from test_director_session import run_session
from test_director_support import INTERVAL_MS, director_config_many, running_director

from analyzers.formats.ptd_time import format_ptd_time
from power_director.storage import RecordingReader
from rules import cli as power_check
from rules.training.synthetic import write_result

MS = 1_000_000
TWO_ANALYZERS = [
    {"name": "a", "driver": "simulated", "options": {"seed": 1}},
    {"name": "b", "driver": "simulated", "options": {"seed": 2, "channels": 2}},
]


def test_two_analyzers_are_merged_by_time_and_export_to_training_logs(tmp_path: Path) -> None:
    with running_director(director_config_many(tmp_path / "data", TWO_ANALYZERS)) as running:
        replies = run_session(running, "pair")
        session_id = replies["session_id"]
        folder = tmp_path / "data" / "sessions" / session_id
        mark = f"{session_id}_testing"
        a = RecordingReader(folder / "recording" / "a.arrows").read(mark)
        b = RecordingReader(folder / "recording" / "b.arrows").read(mark)
        # Three training runs out of one session: the two phases, and a time range of the recording.
        begin_ns, end_ns = int(a.time_ns[2]) - 30 * MS, int(a.time_ns[-3]) + 30 * MS
        exports = [
            running.ok("POST", f"/sessions/{session_id}/training-export", {"mode": "ranging"}),
            running.ok(
                "POST", f"/sessions/{session_id}/training-export", {"mode": "testing", "result_index": 2}
            ),
            running.ok(
                "POST",
                f"/sessions/{session_id}/training-export",
                {"begin_ns": begin_ns, "end_ns": end_ns, "result_index": 3},
            ),
        ]
    assert len(a) >= 8 and len(b) >= 8 and b.channel_count == 2

    # Every line: analyzer a's sample (each exactly once, in order) and b's nearest within 50 ms.
    lines = (folder / "run_1" / "spl.txt").read_text().splitlines()
    assert len(lines) == len(a)
    head = [line.split(",Analyzer")[0].split(",") for line in lines]
    part_a = [line.split(",Analyzer1,")[1].split(",Analyzer2,")[0].split(",") for line in lines]
    part_b = [line.split(",Analyzer2,")[1].split(",") for line in lines]
    assert [h[1] for h in head] == [format_ptd_time(t) for t in a.time_ns] == [p[1] for p in part_a]
    assert all(h[11] == mark for h in head)
    b_times = {format_ptd_time(t): (int(t), float(w)) for t, w in zip(b.time_ns, b.watts, strict=True)}
    differences = []
    for h, pa, pb in zip(head, part_a, part_b, strict=True):
        assert pb[1] in b_times  # a real sample of b, not a filler: the two clocks overlap fully
        t_b, w_b = b_times[pb[1]]
        t_a = int(a.time_ns[[format_ptd_time(t) for t in a.time_ns].index(pa[1])])
        differences.append(t_b - t_a)
        assert float(h[3]) == pytest.approx(float(pa[3]) + w_b, abs=2e-6)
        assert pb[-2:] == ["PF", pb[-1]] and ",Ch2,Watts," in ",".join(pb)
    used = [pb[1] for pb in part_b]
    assert len(set(used)) == len(used)
    assert max(abs(d) for d in differences) <= INTERVAL_MS // 2 * MS

    # The alignment, as the stop reply and server.json report it, is what the file shows.
    summary = replies["testing_stop"]["analyzers"]
    expected = {
        "samples": len(b),
        "matched": len(lines),
        "missing": 0,
        "unused": len(b) - len(lines),
        "max_abs_error_s": max(abs(d) for d in differences) / 1e9,
        "mean_abs_error_s": pytest.approx(float(np.mean(np.abs(differences))) / 1e9, abs=1e-12),
        "mean_offset_s": pytest.approx(float(np.mean(differences)) / 1e9, abs=1e-12),
    }
    assert summary[1]["name"] == "b" and summary[1]["alignment"] == expected
    assert summary[0]["alignment"]["max_abs_error_s"] == 0.0 and summary[0]["samples"] == len(a)
    server = json.loads((folder / "power" / "server.json").read_text())
    assert server["joulebench"]["alignment"]["testing"]["tolerance_s"] == INTERVAL_MS / 2000
    assert server["joulebench"]["alignment"]["testing"]["analyzers"][1] == {"name": "b", **expected}
    # ptd_messages: analyzer a in the reference's shape; ptd_config: the current reference's list, one
    # entry per analyzer, a first; each analyzer's record in analyzers_ptd.
    records = server["joulebench"]["analyzers_ptd"]
    assert [r["name"] for r in records] == ["a", "b"]
    assert server["ptd_messages"] == records[0]["ptd_messages"]
    assert server["ptd_config"] == [r["ptd_config"] for r in records]
    for record in records:
        commands = [m["cmd"] for m in record["ptd_messages"]]
        assert commands.count(f"Go,{INTERVAL_MS},0,{mark}") == 1 and commands.count("Stop") == 2
    assert sorted(server["joulebench"]["traces"]) == ["a", "b"]
    assert server["joulebench"]["recorder"]["analyzers"][1]["path"] == "recording/b.arrows"

    # The training export: one node per analyzer, read by power-check with a training job's result log.
    assert [e["files"] for e in exports] == [
        [f"training/power/result_{i}/node_0.txt", f"training/power/result_{i}/node_1.txt"] for i in (1, 2, 3)
    ]
    assert exports[1]["readings"] == len(a) + len(b)
    bench = tmp_path / "bench"
    shutil.copytree(folder / "training" / "power", bench / "power")
    ranging = f"{session_id}_ranging"
    windows = {  # run -> (node traces, measurement start and stop in ms)
        1: [RecordingReader(folder / "recording" / f"{n}.arrows").read(ranging) for n in ("a", "b")],
        2: [a, b],
        3: [t.take((t.time_ns >= begin_ns) & (t.time_ns <= end_ns)) for t in (a, b)],
    }
    expected_kj = {}
    for run, traces in windows.items():
        first_ms = int(traces[0].time_ns[0]) // MS
        last_ms = int(traces[0].time_ns[-1]) // MS
        run_start_ms, run_stop_ms = first_ms + 100 + run, last_ms - 100 - 10 * run  # three different TTTs
        write_result(
            bench / f"result_{run}.txt", "llama2_70b_lora", run_start_ms, run_stop_ms - run_start_ms, True
        )
        # Recomputed: backward rectangles from the measurement start, scaled to the run's time to train.
        energy_j = 0.0
        for trace in traces:
            t_ms = (trace.time_ns // MS).astype(np.int64)
            start_ms = begin_ns // MS if run == 3 else int(t_ms[0]) - INTERVAL_MS
            stop_ms = end_ns // MS if run == 3 else int(t_ms[-1])
            area_ws = float(np.sum(trace.watts * np.diff(np.concatenate(([start_ms], t_ms))))) / 1000
            energy_j += area_ws * (run_stop_ms - run_start_ms) / (stop_ms - start_ms)
        expected_kj[f"result_{run}"] = energy_j / 1000
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        power_check.main([str(bench), "--json"])
    [result] = json.loads(output.getvalue())
    runs = {r["name"]: r for r in result["runs"]}
    assert {name: r["energy_kj"] for name, r in runs.items()} == pytest.approx(expected_kj, rel=1e-9)
    # Three runs: the fastest and slowest are dropped, the score is the one left (runs of a few seconds
    # fail only the compliance checks that ask for 60 readings per node and for 10 runs).
    [kept] = [r for r in result["runs"] if not r["dropped"]]
    assert result["valid"] is True and result["energy_kj"] == pytest.approx(kept["energy_kj"], rel=1e-12)
    fails = [c["id"] for c in result["checks"] if c["verdict"] == "FAIL"]
    assert fails == ["training.readings", "training.runs"]


def test_a_client_that_vanished_has_its_session_failed_and_its_data_kept(tmp_path: Path) -> None:
    analyzer = {"name": "sim", "driver": "simulated"}
    config = director_config_many(tmp_path / "data", [analyzer], client_timeout_s=1.0)
    with running_director(config) as running:
        created = running.create_session("gone")
        session_id = created["session_id"]
        started = running.ok("POST", f"/sessions/{session_id}/ranging/start")
        began = time.monotonic()
        # Only the list is watched: it names no session, so it is no sign of life from the client.
        state = "ranging"
        while state == "ranging" and time.monotonic() - began < 10:
            time.sleep(0.1)
            listed = running.get("/sessions").json()
            state = next(s["state"] for s in listed if s["session_id"] == session_id)
        waited_s = time.monotonic() - began
        info = running.ok("GET", f"/sessions/{session_id}")
        late = running.post(f"/sessions/{session_id}/ranging/stop")
        beat = running.post(f"/sessions/{session_id}/heartbeat")
        # The director serves the next client.
        time.sleep(1.0)
        second = running.create_session("next")["session_id"]
        running.ok("POST", f"/sessions/{second}/done")
    assert created["client_timeout_s"] == 1.0
    assert state == "failed" and 1.0 <= waited_s < 4.0
    reason = (
        "no word from the client for 1 s (session.client_timeout_s); what was recorded until then is kept"
    )
    assert info["failure"] == reason
    assert late.status_code == 409 and late.json()["detail"] == (
        f"no ranging run to stop: session {session_id} is failed ({reason})"
    )
    assert beat.status_code == 409 and beat.json()["detail"] == f"session {session_id} is failed ({reason})"
    folder = tmp_path / "data" / "sessions" / session_id
    lines = (folder / "ranging" / "spl.txt").read_text().splitlines()
    assert len(lines) >= 8 and all(f",Mark,{session_id}_ranging" in line for line in lines)
    recorded = RecordingReader(folder / "recording" / "sim.arrows").read()
    assert len(recorded) == len(lines)
    assert int(recorded.time_ns[0]) > started["before_start"]["wall_ns"]
    server = json.loads((folder / "power" / "server.json").read_text())
    assert server["joulebench"]["state"] == "failed" and server["joulebench"]["failure"] == reason
    assert [m["cmd"] for m in server["ptd_messages"]][-2:] == ["SR,V,Auto", "SR,A,Auto"]
    assert f"[ERROR] {reason}" in (folder / "power" / "server.log").read_text()


def test_heartbeats_keep_a_quiet_client_s_session_open(tmp_path: Path) -> None:
    analyzer = {"name": "sim", "driver": "simulated"}
    config = director_config_many(tmp_path / "data", [analyzer], client_timeout_s=1.0)
    with running_director(config) as running:
        session_id = running.create_session("beating")["session_id"]
        running.ok("POST", f"/sessions/{session_id}/ranging/start")
        beats = []
        for _ in range(12):  # 3 s: three times the timeout, no call but heartbeats
            time.sleep(0.25)
            beats.append(running.ok("POST", f"/sessions/{session_id}/heartbeat")["state"])
        stopped = running.post(f"/sessions/{session_id}/ranging/stop")
        running.ok("POST", f"/sessions/{session_id}/done")
    assert beats == ["ranging"] * 12
    assert stopped.status_code == 200


def test_a_data_directory_that_cannot_take_a_session_is_refused_before_it_starts(tmp_path: Path) -> None:
    analyzer = {"name": "sim", "driver": "simulated"}
    body = {"label": "disk", "client_uuid": str(uuid.uuid4())}
    config = director_config_many(tmp_path / "full", [analyzer], server={"min_free_mb": 1e12})
    with running_director(config) as running:
        full = running.post("/sessions", body)
        assert running.get("/sessions").json() == []
    assert full.status_code == 507
    detail = full.json()["detail"]
    assert detail.startswith(f"the data directory {tmp_path / 'full' / 'sessions'} has ")
    assert detail.endswith(
        " MiB free, less than the 1000000000000 MiB a session needs (server.min_free_mb); "
        "free some space and retry"
    )

    with running_director(director_config_many(tmp_path / "data", [analyzer])) as running:
        sessions = tmp_path / "data" / "sessions"
        sessions.rmdir()
        sessions.write_text("a file where the sessions folder should be\n")
        broken = running.post("/sessions", body)
        assert running.get("/time", token=None).status_code == 200
    assert broken.status_code == 503
    assert broken.json()["detail"] == (
        f"the data directory {sessions} cannot be written (not a directory); "
        "no session can record there, fix it and retry"
    )
