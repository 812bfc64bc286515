"""`power-client run` against the fake director: the folder, client.json, and every failure's exit status."""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path

import pytest
from test_client_support import TOKEN, FakeDirector, fake_director, free_port, workload_command

from analyzers.formats.units import NS_PER_S
from power_client.cli import main
from power_client.clock import SkewedClock
from power_client.errors import (
    EXIT_CLOCK,
    EXIT_DIRECTOR_FAILED,
    EXIT_DIRECTOR_REFUSED,
    EXIT_DIRECTOR_UNREACHABLE,
    EXIT_NO_LOADGEN_LOG,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WORKLOAD_FAILED,
)
from rules.inference.loadgen_log import read_loadgen_log

REFERENCE_KEYS = [
    "version",
    "timezone",
    "modules",
    "sources",
    "messages",
    "uuid",
    "session_name",
    "results",
    "phases",
]
FIXTURE_CLIENT_JSON = (
    Path(__file__).resolve().parent
    / "data"
    / "inference"
    / "v2.0-nvidia-orin-resnet50-singlestream"
    / "power"
    / "client.json"
)


def _run(url: str, tmp_path: Path, command: list[str], *extra: str, clock: SkewedClock | None = None) -> int:
    argv = [
        "run",
        "--director",
        url,
        "--output",
        str(tmp_path / "out"),
        "--loadgen-logs",
        str(tmp_path / "logs"),
        "--label",
        "unit",
        "--rounds",
        "8",
        *extra,
        "--",
        *command,
    ]
    return main(argv, clock=clock)


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    return TOKEN


def test_full_run_assembles_the_exact_mlperf_folder(
    tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    skew = SkewedClock(0.050)  # a SUT 50 ms ahead: inside the default ±200 ms
    with fake_director() as (state, url):
        status = _run(
            url,
            tmp_path,
            workload_command(tmp_path / "logs", 0.3, skew_s=0.05),
            clock=skew,
        )
    assert status == EXIT_OK, capsys.readouterr().err
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "power/client.json",
        "power/client.log",
        "power/ptd_logs.txt",
        "power/server.json",
        "power/server.log",
        "ranging/mlperf_log_detail.txt",
        "ranging/mlperf_log_summary.txt",
        "ranging/spl.txt",
        "run_1/mlperf_log_detail.txt",
        "run_1/mlperf_log_summary.txt",
        "run_1/spl.txt",
    ]
    extras = tmp_path / "out-extras"
    assert sorted(p.name for p in extras.iterdir()) == [
        "ranging_workload.log",
        "testing_workload.log",
        "trace.parquet",
    ]
    session = next(iter(state.sessions.values()))
    # The director's files arrive byte for byte.
    assert (out / "run_1" / "spl.txt").read_bytes() == session.files["run_1/spl.txt"]
    assert (out / "power" / "server.json").read_bytes() == session.files["power/server.json"]

    client = json.loads((out / "power" / "client.json").read_text())
    reference = json.loads(FIXTURE_CLIENT_JSON.read_text())
    assert list(client) == [*list(reference), "joulebench"] == [*REFERENCE_KEYS, "joulebench"]
    server = json.loads((out / "power" / "server.json").read_text())
    assert [(m["cmd"], m["reply"]) for m in client["messages"]] == [
        (m["cmd"], m["reply"]) for m in server["messages"]
    ]
    assert client["messages"][0]["cmd"] == "joulebench/power client v1"
    assert [m["cmd"].split(",")[-1] for m in client["messages"][1:]] == [
        "ranging",
        "ranging",
        "testing",
        "testing",
        "done",
    ]
    assert client["uuid"] == {"client": session.client_uuid, "server": session.server_uuid}
    assert client["session_name"] == session.session_id
    assert client["results"] == {
        name: hashlib.sha1((out / name).read_bytes()).hexdigest()
        for name in [
            "power/client.log",
            "ranging/mlperf_log_detail.txt",
            "ranging/mlperf_log_summary.txt",
            "run_1/mlperf_log_detail.txt",
            "run_1/mlperf_log_summary.txt",
        ]
    }
    assert set(client["sources"]) >= {
        "power_client/cli.py",
        "power_client/clock_offset.py",
        "power_director/api.py",
    }
    assert client["modules"]["power_client.cli"] == "power_client/cli.py"

    # Phases: the director's stamps on the client clock, i.e. shifted by the measured offset (−50 ms).
    offset_s = client["joulebench"]["clock_offset_s"]
    uncertainty_s = client["joulebench"]["clock_offset_uncertainty_s"]
    assert abs(offset_s - -0.050) <= uncertainty_s < 0.02
    assert client["joulebench"]["rounds"] == 16  # 8 before and 8 after testing
    for mode in ("ranging", "testing"):
        director_walls = [stamp.wall_ns / NS_PER_S for stamp in session.phases[mode]]
        client_walls = [pair[0] for pair in client["phases"][mode]]
        mode_offset = client["joulebench"]["measurements"][mode]
        mean_offset = sum(m["offset_s"] for m in mode_offset) / 2
        assert client_walls == pytest.approx([w - mean_offset for w in director_walls], abs=1e-6)
        monos = [pair[1] for pair in client["phases"][mode]]
        assert [b - a for a, b in itertools.pairwise(monos)] == pytest.approx(
            [b - a for a, b in itertools.pairwise(client_walls)], abs=1e-6
        )
    # The LoadGen windows (client clock) lie inside each phase on the client clock.
    for folder, mode in (("ranging", "ranging"), ("run_1", "testing")):
        log = read_loadgen_log(out / folder / "mlperf_log_detail.txt")
        begin_s, end_s = log.time_ns("power_begin") / NS_PER_S, log.time_ns("power_end") / NS_PER_S
        walls = [pair[0] for pair in client["phases"][mode]]
        assert walls[1] - 0.001 <= begin_s < end_s <= walls[2]
    client_log = (out / "power" / "client.log").read_text()
    assert "[INFO] Sending command to the server: 'joulebench/power client v1'" in client_log
    assert client_log.splitlines()[-1].endswith("[INFO] Done runs")
    printed = capsys.readouterr().out
    assert f"session {session.session_id}: folder {out} (power/ 5, ranging/ 3, run_1/ 3 files)" in printed
    assert "testing: sim: 3 samples, average 123.50 W" in printed
    assert state.calls.count(f"POST /v1/sessions/{session.session_id}/done") == 1


def test_unreachable_director(tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert _run(url, tmp_path, [sys.executable, "-c", "pass"]) == EXIT_DIRECTOR_UNREACHABLE
    err = capsys.readouterr().err
    assert err == f"power-client: cannot reach the director at {url}: [Errno 111] Connection refused\n"


def test_wrong_token_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", "not-the-token")
    with fake_director() as (state, url):
        assert _run(url, tmp_path, [sys.executable, "-c", "pass"]) == EXIT_DIRECTOR_REFUSED
        err = capsys.readouterr().err
        # Pre-flight: the token was tried with a call that changes nothing, before the clock and the session.
        assert state.calls == ["GET /v1/sessions"]
        # The same --output works at once with the right token: the failed run left nothing behind.
        assert not (tmp_path / "out").exists() and not (tmp_path / "out-extras").exists()
        monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
        assert _run(url, tmp_path, workload_command(tmp_path / "logs", 0.1)) == EXIT_OK
    assert err == (
        f"power-client: the director at {url} refused GET /v1/sessions (HTTP 401: missing or wrong bearer token); "
        "check JOULEBENCH_TOKEN or --token-file\n"
    )


def test_token_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOULEBENCH_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with fake_director() as (_state, url):
        status = _run(
            url, tmp_path, workload_command(tmp_path / "logs", 0.1), "--token-file", str(token_file)
        )
    assert status == EXIT_OK


def test_workload_exit_1_aborts_the_session_and_fails(
    tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_director() as (state, url):
        status = _run(url, tmp_path, [sys.executable, "-c", "import sys; print('boom'); sys.exit(1)"])
    assert status == EXIT_WORKLOAD_FAILED
    extras = tmp_path / "out-extras"
    failure = (
        f"the workload {sys.executable!r} exited with status 1; "
        f"its output is in {extras / 'ranging_workload.log'}"
    )
    assert capsys.readouterr().err == f"power-client: {failure}\n"
    assert (extras / "ranging_workload.log").read_text() == "boom\n"
    session = next(iter(state.sessions.values()))
    # The director's session was aborted with the reason, and nothing went on to testing.
    calls = [c.split("/", 4)[-1] for c in state.calls if c.startswith("POST /v1/sessions/")]
    assert calls == ["ranging/start", "abort"]
    assert session.state == "failed"
    assert session.failure == f"aborted by the client: {failure} (during the ranging run)"


def test_no_loadgen_log(tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logs").mkdir()
    with fake_director() as (_state, url):
        assert _run(url, tmp_path, [sys.executable, "-c", "pass"]) == EXIT_NO_LOADGEN_LOG
    assert capsys.readouterr().err == (
        f"power-client: no LoadGen log from the ranging run under {tmp_path / 'logs'}: "
        "there is no mlperf_log_detail.txt that has power_begin/power_end inside the run\n"
    )


def test_director_missing_a_file_and_message_mismatch(
    tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_director(FakeDirector(drop_file="power/server.log")) as (_state, url):
        assert _run(url, tmp_path, workload_command(tmp_path / "logs", 0.1)) == EXIT_DIRECTOR_FAILED
    assert capsys.readouterr().err == "power-client: the director's session folder lacks power/server.log\n"
    with fake_director(FakeDirector(extra_server_message=True)) as (_state, url):
        status = _run(url, tmp_path / "second", workload_command(tmp_path / "second" / "logs", 0.1))
    assert status == EXIT_DIRECTOR_FAILED
    err = capsys.readouterr().err
    assert "records 7 messages and this client 6, not the same commands and replies" in err


def test_usage_errors(tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with fake_director() as (_state, url):
        assert _run(url, tmp_path, [sys.executable, "-c", "pass"]) == EXIT_USAGE
        assert "already exists and is not empty" in capsys.readouterr().err
        assert _run(url, tmp_path / "b", []) == EXIT_USAGE
        assert "no workload: put the benchmark command after --" in capsys.readouterr().err
        assert _run(url, tmp_path / "c", ["true"], "--no-ranging") == EXIT_USAGE
        assert "--no-ranging needs positive --max-volts and --max-amps" in capsys.readouterr().err


def test_no_ranging_with_known_ranges(tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_director() as (state, url):
        status = _run(
            url,
            tmp_path,
            workload_command(tmp_path / "logs", 0.1),
            "--no-ranging",
            "--max-volts",
            "250",
            "--max-amps",
            "2",
        )
    assert status == EXIT_OK, capsys.readouterr().err
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["power", "run_1"]
    assert "not submission-valid" in capsys.readouterr().out
    assert not next(iter(state.sessions.values())).submission_valid


def test_clock_out_of_bounds_stops_before_the_session(
    tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_director() as (state, url):
        status = _run(url, tmp_path, [sys.executable, "-c", "pass"], "--simulate-clock-skew", "2.345")
    assert status == EXIT_CLOCK
    err = capsys.readouterr().err
    assert err.startswith("power-client: this machine's clock is +234")
    assert err.endswith(
        " ms off the director's before the session (limit ±200 ms); synchronise both with the same time service\n"
    )
    assert state.sessions == {}
