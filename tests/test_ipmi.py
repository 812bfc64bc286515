"""IPMI DCMI driver with a fake `ipmitool` on PATH: parsing, local and LAN, zero readings, slow BMCs, PTD."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fakes_system.manual_clock import ManualPollClock
from fakes_system.ptd_exchange import served, watts_of

from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.ipmi import IpmiAnalyzer, parse_power_reading
from analyzers.ipmi.reading import DcmiParseError
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK

FAKE_BIN = Path(__file__).parent / "fakes_system" / "bin"

OUTPUT = """
    Instantaneous power reading:                   285 Watts
    Minimum during sampling period:                 80 Watts
    Maximum during sampling period:                520 Watts
    Average power reading over sample period:      270 Watts
    IPMI timestamp:                           Thu Jan  1 00:00:00 2024
    Sampling period:                          00000001 Seconds.
    Power reading state is:                   activated
"""


class Bmcs:
    """The fake ipmitool's state directory: one folder per BMC."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def set(self, bmc: str, **files: object) -> None:
        folder = self.root / bmc
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in files.items():
            (folder / name).write_text(f"{value}\n")

    def calls(self) -> list[str]:
        return (self.root / "calls").read_text().splitlines()


@pytest.fixture
def bmcs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bmcs:
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_IPMI_DIR", str(tmp_path))
    for name in ("IPMI_PASSWORD", "JOULEBENCH_IPMI_USER", "JOULEBENCH_IPMI_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    return Bmcs(tmp_path)


def test_parsing_ipmitool_output() -> None:
    reading = parse_power_reading(OUTPUT)
    assert (reading.instantaneous_w, reading.minimum_w, reading.maximum_w, reading.average_w) == (
        285,
        80,
        520,
        270,
    )
    assert (reading.sampling_period_s, reading.active) == (1, True)
    assert not parse_power_reading(OUTPUT.replace(":                   activated", ": deactivated")).active
    with pytest.raises(DcmiParseError, match="no 'Instantaneous power reading' in the output"):
        parse_power_reading("DCMI request failed because: Invalid command (c1)\n")


def test_the_local_bmc(bmcs: Bmcs) -> None:
    bmcs.set("local", watts=285)
    clock = ManualPollClock()
    analyzer = IpmiAnalyzer(clock=clock)
    assert analyzer.identify().model == "IPMI DCMI local"
    analyzer.start(1.0, "testing")
    clock.advance(1.0)
    bmcs.set("local", watts=312)
    clock.advance(1.0)
    analyzer.close()
    trace = analyzer.fetch()
    assert list(trace.watts) == [285.0, 312.0] and list(trace.flags) == [SAMPLE_OK, SAMPLE_OK]
    assert bmcs.calls()[-1] == "dcmi power reading | password:"


def test_bmcs_over_lan_with_the_password_from_a_file_never_argv(
    bmcs: Bmcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "ipmi-password"
    secret.write_text("hunter2\n")
    monkeypatch.setenv("JOULEBENCH_IPMI_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("JOULEBENCH_IPMI_USER", "monitor")
    bmcs.set("10.0.0.1", watts=450)
    bmcs.set("10.0.0.2", watts=0)  # a BMC without a power sensor says 0
    bmcs.set("10.0.0.3", watts=380, state="deactivated")
    clock = ManualPollClock()
    analyzer = IpmiAnalyzer("admin@10.0.0.1,10.0.0.2:6230,10.0.0.3", clock=clock)
    # The three BMCs are read concurrently, so their calls land in any order.
    assert sorted(bmcs.calls()) == [
        "-I lanplus -H 10.0.0.1 -U admin -E dcmi power reading | password:set",
        "-I lanplus -H 10.0.0.2 -p 6230 -U monitor -E dcmi power reading | password:set",
        "-I lanplus -H 10.0.0.3 -U monitor -E dcmi power reading | password:set",
    ]
    assert not any("hunter2" in call for call in bmcs.calls())
    analyzer.start(1.0)
    clock.advance(1.0)
    analyzer.close()
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(AnalyzerError) as raised:
        analyzer.fetch()
    assert str(raised.value) == (
        "ipmi://10.0.0.2:6230: it reports 0 W; sample flagged (this BMC may not measure power (DCMI))"
    )
    assert [list(block.flags) for block in trace.channels] == [[SAMPLE_OK], [SAMPLE_ERROR], [SAMPLE_ERROR]]
    assert trace.channels[0].watts[0] == 450.0 and list(trace.flags) == [SAMPLE_ERROR]
    assert analyzer.stats().errors == 1
    with pytest.raises(AnalyzerError, match="a password in --device would show in the process list"):
        IpmiAnalyzer("admin:hunter2@10.0.0.1")


def test_a_slow_bmc_misses_samples_without_holding_up_the_others(bmcs: Bmcs) -> None:
    bmcs.set("fast", watts=200)
    bmcs.set("slow", watts=300)
    clock = ManualPollClock()
    analyzer = IpmiAnalyzer("fast,slow", clock=clock)
    bmcs.set("slow", delay=3)
    analyzer.start(0.5)  # ipmitool gets 0.4 s
    began = time.monotonic()
    clock.advance(0.5)
    elapsed = time.monotonic() - began
    analyzer.close()
    trace = analyzer.fetch()
    assert elapsed < 2.0
    assert list(trace.channels[0].watts) == [200.0] and list(trace.channels[1].flags) == [SAMPLE_MISSED]


def test_failures_at_start_are_one_sentence(bmcs: Bmcs, monkeypatch: pytest.MonkeyPatch) -> None:
    bmcs.set("10.0.0.9", watts=1, error="Error: Unable to establish IPMI v2 / RMCP+ session")
    with pytest.raises(AnalyzerConnectionError) as raised:
        IpmiAnalyzer("10.0.0.9")
    assert str(raised.value) == (
        "ipmi://10.0.0.9: ipmitool failed: Error: Unable to establish IPMI v2 / RMCP+ session (check the user "
        "and IPMI_PASSWORD / JOULEBENCH_IPMI_PASSWORD_FILE, and that IPMI over LAN is enabled)"
    )
    bmcs.set(
        "local",
        watts=1,
        error="Could not open device at /dev/ipmi0 or /dev/ipmi/0 or /dev/ipmidev/0: No such file or directory",
    )
    with pytest.raises(
        AnalyzerConnectionError, match=r"load the ipmi_si and ipmi_devintf modules and run as root"
    ):
        IpmiAnalyzer("local")
    monkeypatch.setenv("PATH", str(bmcs.root))
    with pytest.raises(AnalyzerError) as raised:
        IpmiAnalyzer("local")
    assert str(raised.value) == "local: ipmitool is not installed or not on PATH (apt install ipmitool)"


def test_served_over_ptd(bmcs: Bmcs) -> None:
    bmcs.set("bmc-a", watts=450)
    bmcs.set("bmc-b", watts=515)
    env = {"PATH": os.environ["PATH"], "FAKE_IPMI_DIR": str(bmcs.root)}
    with served("ipmi", "bmc-a,bmc-b", env) as ptd:
        assert ptd.ask("Identify").startswith("IPMI DCMI ipmi://bmc-a+ipmi://bmc-b,")
        assert ptd.ask("Go,500,0,testing").startswith("Starting untimed measurement")
        lines: list[str] = []
        while len(lines) < 2:
            lines += ptd.samples("RL,*,*")
        assert ptd.ask("Stop") == "Stopping untimed measurement"
    assert {tuple(watts_of(line)) for line in lines} == {(965.0, 450.0, 515.0)}
