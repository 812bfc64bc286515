"""`power-analyzer-ptd` takes PTDaemon's command line; `power-analyzer serve` serves any driver."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_ptd_daemon_support import PtdClient

from analyzers.ptd.ptd_cli import CommandLineError, daemon_options, main, parse_command_line


def test_ptd_command_lines_of_the_reference_director() -> None:
    # The 3-channel fixture's launch line: -c start,count.
    command = parse_command_line(
        ["-l", "C:\\logs.txt", "-p", "8888", "-c", "1,3", "-y", "77", "10.117.41.199"]
    )
    assert (command.device_type, command.first_channel, command.channel_count) == (77, 1, 3)
    assert (command.interface_flag, command.data_log, command.port) == ("-y", "C:\\logs.txt", 8888)
    options = daemon_options(command)
    assert (options.driver, options.device, options.first_channel) == ("yokogawa", "10.117.41.199", 1)
    # A single-channel meter on its channel 2 (the Orin fixture), and a WT500 whose single number is a count.
    assert parse_command_line(["-c", "2", "52", "x"]).first_channel == 2
    wt500 = parse_command_line(["-c", "4", "-D", "48", "x"])
    assert (wt500.first_channel, wt500.channel_count, wt500.dc_flag) == (1, 4, True)
    simulated = daemon_options(parse_command_line(["-c", "1,3", "0", "dummy"]))
    assert (simulated.driver, dict(simulated.driver_options)) == ("simulated", {"channels": 3})
    assert daemon_options(parse_command_line(["586", "x"])).dc  # WT330 DC


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["52"], "expected DEVICE_TYPE and DEVICE_PORT"),
        (["-q", "52", "x"], "unknown option -q"),
        (["-p", "port", "52", "x"], "-p PORT must be a whole number"),
        (["-c", "1,2,3", "77", "x"], "-c takes a channel or 'start,count'"),
        (["-n", "-y", "52", "x"], "give at most one of -n, -g, -y, -U"),
        (["1234", "x"], "device type 1234 is not supported"),
    ],
)
def test_bad_command_lines_are_one_sentence(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(CommandLineError):
        daemon_options(parse_command_line(argv))


def test_yokogawa_without_its_driver_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzers import registry

    # A machine where the yokogawa driver is not installed: hide its entry point.
    real = registry._entry_points
    monkeypatch.setattr(
        registry, "_entry_points", lambda: {k: v for k, v in real().items() if k != "yokogawa"}
    )
    assert main(["-l", "x.log", "-p", "0", "52", "/dev/usbtmc0"]) == 2
    assert capsys.readouterr().err == (
        "power-analyzer-ptd: driver not available: device type 52 needs the 'yokogawa' driver, "
        "which is not installed.\n"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect(port: int, process: subprocess.Popen[bytes]) -> PtdClient:
    deadline = time.monotonic() + 20
    while True:
        try:
            return PtdClient(port)
        except ConnectionRefusedError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.mark.parametrize("entry", ["power-analyzer-ptd", "power-analyzer serve"])
def test_launched_like_ptdaemon_and_terminated_by_sigterm(tmp_path: Path, entry: str) -> None:
    port = _free_port()
    data_log = tmp_path / "ptd_logfile_1.log"
    if entry == "power-analyzer-ptd":
        args = [
            "-m",
            "analyzers.ptd.ptd_cli",
            "-l",
            str(data_log),
            "-p",
            str(port),
            "-c",
            "1,3",
            "-y",
            "0",
            "dummy",
        ]
    else:
        args = ["-m", "analyzers.cli", "serve", "--channels", "3", "-l", str(data_log), "--port", str(port)]
    argv = [sys.executable, *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={"TZ": "UTC"})
    try:
        with _connect(port, process) as client:
            assert client.cmd("Hello") == "Hello, PTDaemon here!"
            assert client.cmd("Go,10,0,session_ranging").startswith("Starting untimed measurement")
            time.sleep(0.2)
            assert client.cmd("Stop") == "Stopping untimed measurement"
            lines = client.request("RL,*,*")
            assert len(lines) > 10 and lines[1].count("Watts") == 4
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in output
    assert "Uncertainty checking for SimulatedWT310 is activated" in output
    assert "Go with mark 'session_ranging'" in output
    logged = [line for line in data_log.read_text().splitlines() if ",Mark,session_ranging," in line]
    assert len(logged) == len(lines) - 1 and all(",Ch1,Watts," in line and ",Ch3," in line for line in logged)


def test_channel_option_reaches_the_yokogawa_driver() -> None:
    three_of_wt330 = daemon_options(parse_command_line(["-c", "1,3", "77", "socket://127.0.0.1:9"]))
    assert three_of_wt330.driver == "yokogawa"
    assert dict(three_of_wt330.driver_options) == {"first_element": 1, "channels": 3}
    second_only = daemon_options(parse_command_line(["-c", "2", "52", "/dev/ttyUSB0"]))
    assert dict(second_only.driver_options) == {"first_element": 2, "channels": 1}
    every_element = daemon_options(parse_command_line(["49", "/dev/ttyUSB0"]))
    assert dict(every_element.driver_options) == {}


def test_the_console_reaches_a_pipe_line_by_line_with_the_meter_traffic(tmp_path: Path) -> None:
    """The reference director tees PTDaemon's stdout through a pipe: each line must arrive as it is
    logged (not when a buffer fills or the daemon exits), and the meter traffic with it."""
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "analyzers.ptd.ptd_cli",
        "-l",
        str(tmp_path / "log"),
        "-p",
        str(port),
        "0",
        "x",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={"TZ": "UTC"})
    assert process.stdout is not None
    arrived: list[tuple[float, str]] = []
    reader = threading.Thread(
        target=lambda: arrived.extend(
            (time.monotonic(), raw.decode()) for raw in iter(process.stdout.readline, b"")
        ),
        daemon=True,
    )
    reader.start()
    try:
        with _connect(port, process) as client:
            sent = time.monotonic()
            client.cmd("Go,100,0,S_ranging")
            deadline = sent + 5
            while not any("Read " in line for _, line in arrived) and time.monotonic() < deadline:
                time.sleep(0.02)
            go_line = next((at for at, line in arrived if "Go with mark 'S_ranging'" in line), None)
            assert go_line is not None and go_line - sent < 2.0  # while the daemon runs, at once
            assert any(" from SimulatedWT310: Watts," in line for _, line in arrived)
            client.cmd("Stop")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
