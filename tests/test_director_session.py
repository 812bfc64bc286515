"""A whole session over real HTTP, against our PTD daemon over real TCP on loopback.

The director is uvicorn in a thread; the daemon is `analyzers.ptd` over a simulated meter on the
wall clock. Settle times are 0.1 s and runs sample at 100 ms for ~1 s, so a session takes ~3 s.
Expected values are recomputed from the files the session wrote, never taken from the director.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_director_support import INTERVAL_MS, TOKEN, director_config, running_director
from test_ptd_daemon_support import running_daemon

from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.trace import Trace
from power_director.api import CLIENT_PROTOCOL, SERVER_PROTOCOL
from power_director.ptd_sequence import SEQUENCES

FIXTURES = Path("/work/shared/fixtures/inference")
if not FIXTURES.exists():
    FIXTURES = Path(__file__).resolve().parent / "data" / "inference"
REFERENCE_SERVER_JSON = FIXTURES / "v2.0-nvidia-orin-resnet50-singlestream" / "power" / "server.json"
GO_REPLY = f"Starting untimed measurement, maximum 2000000 samples at {INTERVAL_MS}ms with 0 rampup samples"
RUN_S = 1.0
SESSION_WALL_LIMIT_S = 60.0


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def read_spl(path: Path) -> tuple[Trace, list[str]]:
    lines = path.read_text().splitlines()
    return decode_sample_lines(path.read_bytes()), lines


def maxima(trace: Trace) -> tuple[float, float]:
    """Max volts and amps over the channels (the sum block of a multi-channel meter has none)."""
    blocks = trace.channels or (trace,)
    volts = max(float(np.nanmax(b.volts)) for b in blocks)
    amps = max(float(np.nanmax(b.amps)) for b in blocks)
    return volts, amps


def sequence_values(session_id: str, ranging: Trace, amps_factor: float = 1.1) -> dict[str, str]:
    """What fills `ReferenceSequence.render` for a session against our daemon: its ranging maxima
    (volts, factor x amps) as the testing ranges, autorange found at the start and restored."""
    max_volts, max_amps = maxima(ranging)
    return {
        "session": session_id,
        "interval_ms": str(INTERVAL_MS),
        "ranging_amps": "Auto",
        "volts": f"{max_volts:.6f}",
        "amps": f"{round(max_amps * amps_factor, 6):.6f}",
        "initial_volts": "Auto",
        "initial_amps": "Auto",
    }


def run_session(running: Any, label: str) -> dict[str, Any]:
    """Create → ranging → testing → done, as a client would; returns every reply."""
    client_uuid = str(uuid.uuid4())
    created = running.ok("POST", "/sessions", {"label": label, "client_uuid": client_uuid})
    session_id = created["session_id"]
    replies: dict[str, Any] = {"created": created, "session_id": session_id, "client_uuid": client_uuid}
    for mode in ("ranging", "testing"):
        replies[f"{mode}_start"] = running.ok("POST", f"/sessions/{session_id}/{mode}/start", {})
        time.sleep(RUN_S)  # the workload
        replies[f"{mode}_stop"] = running.ok("POST", f"/sessions/{session_id}/{mode}/stop")
    replies["done"] = running.ok("POST", f"/sessions/{session_id}/done")
    return replies


@pytest.mark.parametrize("channels", [1, 3])
def test_full_session_against_our_daemon(tmp_path: Path, channels: int) -> None:
    with running_daemon(tmp_path, channels=channels, virtual=False, noise=True) as daemon:
        url = f"ptd://127.0.0.1:{daemon.port}"
        config = director_config(tmp_path / "data", {"name": "wt", "ptd": url, "device_type": 49})
        with running_director(config) as running:
            began = time.monotonic()
            replies = run_session(running, "loop")
            wall_s = time.monotonic() - began
            session_id = replies["session_id"]
            folder = tmp_path / "data" / "sessions" / session_id
            listed = running.ok("GET", f"/sessions/{session_id}/files")
            downloaded = running.get(f"/sessions/{session_id}/files/run_1/spl.txt").content
            archive = running.get(f"/sessions/{session_id}/archive").content
            info = running.ok("GET", f"/sessions/{session_id}")
    print(f"\nsession wall time with {channels} channel(s): {wall_s:.2f} s")
    assert wall_s < SESSION_WALL_LIMIT_S
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_loop", session_id)
    assert info["state"] == "done" and info["submission_valid"] is True and info["failure"] is None

    # The MLPerf layout, plus the Parquet trace next to (not inside) its folders.
    names = [
        "power/ptd_logs.txt",
        "power/server.json",
        "power/server.log",
        "ranging/spl.txt",
        "run_1/spl.txt",
    ]
    # Next to them: the Parquet trace, the recorder's durable stream and the session record.
    assert replies["done"]["files"] == sorted(
        [*names, "trace.parquet", "recording/wt.arrows", "session.json"]
    )
    assert [entry["path"] for entry in listed["files"]] == replies["done"]["files"]
    for entry in listed["files"]:
        assert entry["sha1"] == sha1(folder / entry["path"])
        assert entry["size"] == (folder / entry["path"]).stat().st_size
    assert downloaded == (folder / "run_1" / "spl.txt").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == [f"{session_id}/{name}" for name in replies["done"]["files"]]

    # Samples: every line marked with its phase, the count the stop reply announced, inside the phase.
    traces = {}
    for mode, directory in (("ranging", "ranging"), ("testing", "run_1")):
        trace, lines = read_spl(folder / directory / "spl.txt")
        traces[mode] = trace
        summary = replies[f"{mode}_stop"]["analyzers"][0]
        assert summary["samples"] == len(lines) >= 8
        assert all(f",Mark,{session_id}_{mode}" in line for line in lines)
        assert trace.channel_count == (channels if channels > 1 else 0)
        if channels > 1:
            assert all(",Ch1,Watts," in line and ",Ch3,Watts," in line for line in lines)
        start = replies[f"{mode}_start"]
        stop = replies[f"{mode}_stop"]
        assert trace.time_ns.min() > start["before_start"]["wall_ns"]
        assert trace.time_ns.max() <= stop["sampling_stopped"]["wall_ns"]
        assert summary["max_volts"] == pytest.approx(maxima(trace)[0], abs=1e-6)
        assert summary["max_amps"] == pytest.approx(maxima(trace)[1], abs=1e-6)
        assert summary["avg_power_w"] == pytest.approx(float(np.mean(trace.watts)), abs=1e-5)

    # Ranges: max volts and 1.1 x max amps of the ranging samples, then the initial (auto) ranges back.
    max_amps = maxima(traces["ranging"])[1]
    server = json.loads((folder / "power" / "server.json").read_text())
    ranging_mark, testing_mark = f"{session_id}_ranging", f"{session_id}_testing"
    read = ("RL,*,*",) if channels > 1 else ("RL,*,*", "RL")
    # The current reference director's sequence (power_director.ptd_sequence), filled in: the
    # recorder's reads during a run are counted in joulebench.recorder, not listed; the read after
    # each Stop is, from RL,*,* on, as the reference tries it.
    expected_commands = SEQUENCES["current"].render(sequence_values(session_id, traces["ranging"]), read)
    assert expected_commands[3:6] == ["SR,V,Auto", "SR,A,Auto", "SR,A,Auto"]
    assert [m["cmd"] for m in server["ptd_messages"]] == expected_commands
    replies_by_command = [(m["cmd"], m["reply"]) for m in server["ptd_messages"]]
    assert replies_by_command[2] == ("RR", "Ranges,1,20.000000,1,600.000000")
    assert all(reply == GO_REPLY for command, reply in replies_by_command if command.startswith("Go,"))
    assert all(
        reply == "Stopping untimed measurement" for command, reply in replies_by_command if command == "Stop"
    )
    assert replies_by_command[-2:] == [("SR,V,Auto", "Range V changed"), ("SR,A,Auto", "Range A changed")]

    # server.json: the reference's keys in the reference's order, then ours.
    reference = json.loads(REFERENCE_SERVER_JSON.read_text())
    assert list(server) == [*reference, "joulebench"]
    assert server["session_name"] == session_id
    assert server["uuid"] == {"client": replies["client_uuid"], "server": replies["created"]["server_uuid"]}
    assert server["timezone"] == 0
    assert server["ptd_config"] == [
        {"command": [], "device_type": 49, "interface_flag": "", "device_port": url, "channel": None}
    ]
    assert server["results"] == {name: sha1(folder / name) for name in names if name != "power/server.json"}
    assert "power_director/sessions.py" in server["sources"]
    assert server["sources"]["power_director/sessions.py"] == sha1(
        Path(__file__).resolve().parents[1] / "power_director" / "sessions.py"
    )
    assert server["modules"]["power_director.sessions"] == "power_director/sessions.py"

    # messages: the handshake first, then one entry per recorded call with the exchange strings the
    # replies carried; start/stop times are the phase stamps the client got back.
    commands = [(m["cmd"], m["reply"]) for m in server["messages"]]
    assert commands == [
        (CLIENT_PROTOCOL, SERVER_PROTOCOL),
        (f"session,{session_id},start,ranging", "OK"),
        (f"session,{session_id},stop,ranging", "OK"),
        (f"session,{session_id},start,testing", "OK"),
        (f"session,{session_id},stop,testing", "OK"),
        (f"session,{session_id},done", "OK"),
    ]
    exchanges = [
        replies[key]["exchange"]
        for key in ("created", "ranging_start", "ranging_stop", "testing_start", "testing_stop", "done")
    ]
    assert [(e["cmd"], e["reply"]) for e in exchanges] == commands
    for mode in ("ranging", "testing"):
        start, stop = replies[f"{mode}_start"], replies[f"{mode}_stop"]
        stamps = [
            start["before_start"],
            start["sampling_started"],
            stop["stop_received"],
            stop["sampling_stopped"],
        ]
        assert server["phases"][mode] == [
            [s["wall_ns"] / 1_000_000_000, s["monotonic_ns"] / 1_000_000_000] for s in stamps
        ]
        walls = [s["wall_ns"] for s in stamps]
        assert walls == sorted(walls)
        assert walls[2] - walls[1] >= RUN_S * 1e9
        start_message = server["messages"][1 if mode == "ranging" else 3]
        assert start_message["cmd_time"] == stamps[0]["wall_ns"] / 1_000_000_000
        assert start_message["reply_time"] == stamps[1]["wall_ns"] / 1_000_000_000
    assert server["joulebench"]["ranging"]["wt"]["amps_range"] == round(max_amps * 1.1, 6)
    assert server["joulebench"]["submission_valid"] is True

    # ptd_logs.txt: the director's own record of a daemon it does not run, saying so.
    console = (folder / "power" / "ptd_logs.txt").read_text()
    assert console.startswith(
        f"joulebench power-director: record of its exchange with the PTD daemon at {url}."
    )
    assert f"Go with mark '{ranging_mark}'" in console and f"Go with mark '{testing_mark}'" in console
    assert console.count("Response to client sent: Stopping untimed measurement") == 2

    # The Parquet trace: both phases, every sample, with its mark.
    whole = Trace.from_parquet(folder / "trace.parquet")
    assert len(whole) == len(traces["ranging"]) + len(traces["testing"])
    assert list(whole.mark_names) == [ranging_mark, testing_mark]
    np.testing.assert_array_equal(
        whole.time_ns, np.concatenate([traces["ranging"].time_ns, traces["testing"].time_ns])
    )
    np.testing.assert_allclose(
        whole.watts, np.concatenate([traces["ranging"].watts, traces["testing"].watts]), atol=5e-7
    )
    assert TOKEN not in (folder / "power" / "server.log").read_text()
