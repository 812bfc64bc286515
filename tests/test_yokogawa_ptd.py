"""A fake WT310 / WT333 served by `power-analyzer-ptd` and `power-analyzer serve`, read back over PTD."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from fakes.links import PtyEndpoint, TcpEndpoint
from fakes.yokogawa import FakeWT, reading, update_of
from test_ptd_daemon_support import PtdClient

from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import PtdServer
from analyzers.yokogawa import YokogawaAnalyzer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(args: list[str], port: int) -> tuple[subprocess.Popen[bytes], PtdClient]:
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={"TZ": "UTC"}
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            return process, PtdClient(port)
        except ConnectionRefusedError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"daemon did not come up: {output}") from None
            time.sleep(0.05)


def _terminate(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output.decode()
    return output.decode()


def _watts(line: str, block: int = 0) -> float:
    fields = line.split(",")
    positions = [i for i, f in enumerate(fields) if f == "Watts"]
    return float(fields[positions[block] + 1])


def test_power_analyzer_ptd_serves_a_wt310_over_socket() -> None:
    fake = FakeWT("WT310")
    endpoint = TcpEndpoint(fake).start()
    port = _free_port()
    args = ["-m", "analyzers.ptd.ptd_cli", "-p", str(port), "49", endpoint.address]
    process, client = _start(args, port)
    try:
        with client:
            assert client.cmd("Hello") == "Hello, PTDaemon here!"
            identify = client.cmd("Identify").split(",")
            assert identify[0] == "YokogawaWT310" and identify[12:15] == ["1", "1", "1"]
            assert identify[-1] == "YOKOGAWA;YokogawaWT310;C2PH13047V;F1.03"
            assert client.cmd("RR") == "Ranges,0,20.000000,0,600.000000"
            assert client.cmd("SR,V,200") == "Range V changed"
            assert client.cmd("SR,A,3") == "Range A changed"
            assert client.cmd("RR") == "Ranges,0,5.000000,0,300.000000"
            assert client.cmd("Go,100,0,run_1").startswith("Starting untimed measurement")
            time.sleep(0.7)
            assert client.cmd("Stop") == "Stopping untimed measurement"
            lines = client.request("RL")
            uncertainty = client.cmd("Uncertainty")
        assert (fake.elements[1].volts_range, fake.elements[1].amps_range) == (300.0, 5.0)
        samples = lines[1:]
        assert len(samples) >= 5
        updates = [update_of(_watts(line)) for line in samples]
        assert np.all(np.diff(updates) == 1)
        k = updates[0]
        expected = reading(k, 1)
        assert samples[0].split(",", 2)[2] == (
            f"Watts,{expected['P']:.6f},Volts,231.000000,Amps,{expected['I']:.6f},PF,0.900000"
        )
        # Uncertainty = 0.1 % of reading + 0.1 % of 300 V x 5 A, over the samples of the measurement.
        fields = uncertainty.split(",")
        assert fields[0] == "Uncertainty" and fields[5:8] == [str(len(samples)), "0", "0"]
        watts = np.array([_watts(line) for line in samples])
        assert abs(float(fields[1]) - float(np.mean(0.001 + 1.5 / watts))) < 1e-6
    finally:
        output = _terminate(process)
        endpoint.close()
    assert "Uncertainty checking for YokogawaWT310 is activated" in output
    assert fake.received[-1] == ":COMMunicate:REMote OFF"  # the front panel is given back


def test_daemon_api_serves_a_wt333_on_a_pty_with_its_three_channels(tmp_path: Path) -> None:
    fake = FakeWT("WT333")
    endpoint = PtyEndpoint(fake).start()
    meter = YokogawaAnalyzer.from_device(endpoint.address)
    console = io.StringIO()
    # No idle sampling between measurements: the test need not wait out 1 s updates.
    session = PtdCommandHandler(
        meter, ConsoleLog(console), DataLog(tmp_path / "data.log"), DaemonConfig(idle_interval_ms=None)
    )
    session.announce()
    server = PtdServer(session, "127.0.0.1", 0)
    server.serve_in_thread()
    try:
        with PtdClient(server.port) as client:
            assert client.cmd("Identify").split(",")[0] == "YokogawaWT330"
            assert client.cmd("RR,*") == "Ranges," + ",".join(["0,20.000000,0,600.000000"] * 4)
            assert client.cmd("SR,A,1.5,2") == "Range A changed"  # element 2 only
            assert client.cmd("RR,2") == "Ranges,0,2.000000,0,600.000000"
            assert client.cmd("Go,100,0,testing").startswith("Starting untimed measurement")
            time.sleep(0.55)
            assert client.cmd("Stop") == "Stopping untimed measurement"
            lines = client.request("RL,*,*")
        samples = lines[1:]
        assert len(samples) >= 3
        for line in samples:
            k = update_of(_watts(line, 1), 1)
            per_element = [reading(k, e)["P"] for e in (1, 2, 3)]
            assert [_watts(line, b) for b in (1, 2, 3)] == per_element
            assert _watts(line, 0) == float(f"{sum(per_element):.5E}")
            assert ",Volts,-1.000000,Amps,-1.000000,PF,-1.000000," in line  # the sum block
        assert (fake.elements[1].amps_range, fake.elements[2].amps_range) == (20.0, 2.0)
    finally:
        server.close()
        meter.close()
        endpoint.close()
