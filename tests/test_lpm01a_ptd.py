"""A fake LPM01A served by `power-analyzer serve --driver lpm01a`, read back over PTD: µW at PTD's resolution."""

from __future__ import annotations

import time

from fakes.links import PtyEndpoint
from fakes.lpm01a import FakeLpm01a
from test_ptd_daemon_support import serving


def test_power_analyzer_serve_reads_an_lpm01a_at_100_hz() -> None:
    fake = FakeLpm01a(power_w=lambda i: 12.3456e-6)  # 12.3456 µW
    endpoint = PtyEndpoint(fake, line_end=b"\r\n").start()
    try:
        with serving(["--driver", "lpm01a", "--device", endpoint.address], {"TZ": "UTC"}) as served:
            client = served.client
            assert client.cmd("Identify").split(",")[0] == "LPM01A"
            assert client.cmd("RR") == "Ranges,-1,-1.000000,-1,-1.000000"
            assert client.cmd("Go,10,0,tiny").startswith("Starting untimed measurement")
            time.sleep(0.5)
            assert client.cmd("Stop") == "Stopping untimed measurement"
            samples = client.request("RL")[1:]
        assert "freq 100" in fake.received  # Go,10 = the board sampling at 100 Hz
        assert len(samples) >= 30
        # Each 10 ms sample is 1235-10 J (1.235e-7 J: the board's four digits) = 12.35 µW; PTD's six
        # decimals of watts print it as 0.000012. The native Trace keeps 1.235e-05 W (test_lpm01a.py).
        assert {line.split(",", 2)[2] for line in samples} == {
            "Watts,0.000012,Volts,3.000000,Amps,0.000004,PF,-1.000000"
        }
    finally:
        endpoint.close()
    assert served.returncode == 0, served.output  # SIGTERM ends the daemon cleanly
    assert fake.received[-1] == "hrc" and not fake.in_control
