"""`PtdAnalyzer` launching a daemon process (ours, and a scripted 1.9.x stand-in), and `power-analyzer read`."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_ptd_client_support import IDENTIFY_1_9_2, simulated_daemon

from analyzers.cli import main as power_analyzer
from analyzers.errors import AnalyzerConnectionError
from analyzers.ptd.client.analyzer import PtdAnalyzer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_launching_our_daemon_connects_once_it_listens_and_captures_its_console(tmp_path: Path) -> None:
    port = free_port()
    console = tmp_path / "ptd_logs.txt"
    command = [sys.executable, "-m", "analyzers.ptd.ptd_cli", "-p", str(port), "0", "dummy"]
    analyzer = PtdAnalyzer(f"ptd://127.0.0.1:{port}", launch=command, console_log=console)
    assert analyzer.daemon is not None
    with analyzer:
        # Written and flushed while the daemon still runs. A thread copies the daemon's output into the
        # file, so the line may land a moment after the reply it reports: wait for it, boundedly.
        deadline = time.monotonic() + 10
        while "Response to client sent: Hello, PTDaemon here!" not in console.read_text():
            assert time.monotonic() < deadline, console.read_text()
            time.sleep(0.02)
        assert analyzer.identify().model == "SimulatedWT310"
        analyzer.start(0.05, "launched")
        samples = analyzer.fetch()
        analyzer.stop()
        samples_after = analyzer.fetch()
        stats = analyzer.stats()
    assert analyzer.daemon.stop() == 0  # SIGTERM ends it cleanly, as the reference director does
    text = console.read_text()
    assert "Go with mark 'launched'" in text and text.rstrip().endswith("Shutting down")
    assert len(samples) + len(samples_after) == stats.samples > 0
    assert stats.extra["console_other_errors"] == 0.0


FAKE_1_9 = textwrap.dedent(
    """
    import socket, sys
    port = int(sys.argv[1])
    for text in [
        "WARNING: Uncertainty 1.59% above 1.00% limit for the last measurement sample!",
        "WARNING: Uncertainty 1.45%, which is above 1.00% limit for the last sample!",
        "ERROR: Can't evaluate uncertainty of this sample!",
        "WARNING: Missed 3 samples",
        "ERROR: Bad watts reading nan from WT310",
    ]:
        print("03-03-2021 00:54:06.184: " + text, flush=True)
    server = socket.create_server(("127.0.0.1", port))
    print("03-03-2021 00:54:06.200: Waiting for a connection...", flush=True)
    conn, _ = server.accept()
    replies = {"Hello": "Hello, PTDaemon here!", "Identify": IDENTIFY,
               "Watts": "Watts,4.450000,4.380000,4.520000,692,0,692",
               "Uncertainty": "Uncertainty,0.006264,0.006105,0.009201,692,0,692,0"}
    for raw in conn.makefile("rb"):
        conn.sendall((replies.get(raw.decode().strip(), "Unknown command") + "\\r\\n").encode())
    """
).replace("IDENTIFY", repr(IDENTIFY_1_9_2))


def test_a_launched_1_9_daemon_s_warnings_are_counted_in_both_wordings(tmp_path: Path) -> None:
    script = tmp_path / "ptd_1_9.py"
    script.write_text(FAKE_1_9)
    port = free_port()
    console = tmp_path / "ptd_logs.txt"
    analyzer = PtdAnalyzer(
        f"127.0.0.1:{port}", launch=f"{sys.executable} {script} {port}", console_log=console
    )
    with analyzer:
        stats = analyzer.stats()
        assert analyzer.ptd_identity.version.release == "1.9.2"
    assert stats.extra == {
        "lost_samples": 0.0,
        "reconnects": 0.0,
        "console_uncertainty_above_limit": 2.0,
        "console_uncertainty_unknown": 1.0,
        "console_missed_samples": 3.0,
        "console_bad_readings": 1.0,
        "console_other_errors": 0.0,
    }
    assert (stats.samples, stats.uncertainty_avg) == (692, 0.006264)
    assert console.read_text().count("\n") == 6


def test_a_daemon_that_exits_at_once_is_reported_with_its_last_words(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "analyzers.ptd.ptd_cli", "-p", str(free_port()), "999", "dummy"]
    with pytest.raises(AnalyzerConnectionError) as caught:
        PtdAnalyzer(f"ptd://127.0.0.1:{free_port()}", launch=command, console_log=tmp_path / "c.txt")
    message = str(caught.value)
    assert "cannot connect to the PTD daemon: the daemon " in message
    assert message.endswith(
        "exited with status 2: power-analyzer-ptd: device type 999 is not supported (0 = simulated meter; "
        "Yokogawa: 8, 35, 47, 48, 49, 52, 66, 77, 508, 549, 586)"
    )


def test_a_missing_daemon_executable_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(AnalyzerConnectionError) as caught:
        PtdAnalyzer(
            "ptd://127.0.0.1:8888", launch=[str(tmp_path / "ptd-linux-x86")], console_log=tmp_path / "c"
        )
    assert str(caught.value) == (
        f"{tmp_path / 'ptd-linux-x86'}: cannot start the PTD daemon: No such file or directory "
        "(check the executable path in the launch command)"
    )


def test_power_analyzer_read_drives_a_ptd_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    with simulated_daemon(channels=1) as (server, _, _clock):
        device = f"ptd://127.0.0.1:{server.port}"
        status = power_analyzer(["read", "--driver", "ptd", "--device", device, "--seconds", "0.2"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    # Virtual time: the daemon waits one interval for each RL; sample k is at START + k s.
    # 80 W at 230 V: PF = 0.99 - 0.45 exp(-80/150) = 0.7260, A = 80 / (230 x 0.7260) = 0.4791.
    assert out[0] == "2023-11-14T22:13:21.000000Z W 80.000000 V 230.000 A 0.4791 PF 0.7260 ok"
    assert out[-1].startswith(f"stats: {len(out) - 1} samples, 0 errors, {len(out) - 1} valid; W avg ")


def test_power_analyzer_read_with_an_unreachable_endpoint_is_one_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    device = f"ptd://127.0.0.1:{port}?connect_timeout=0.2"
    status = power_analyzer(["read", "--driver", "ptd", "--device", device])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"power-analyzer: 127.0.0.1:{port}: no PTD daemon answered in 0.2 s (")
    assert "last: Connection refused) (is it running on that port?" in err
    assert power_analyzer(["read", "--driver", "ptd", "--device", "http://127.0.0.1:8888"]) == 2
    assert capsys.readouterr().err == (
        "power-analyzer: http://127.0.0.1:8888: not a PTD endpoint (expected ptd://HOST:PORT, e.g. ptd://127.0.0.1:8888)\n"
    )
