"""The LPM01A driver through its real code against a fake PowerShield on a pty; EnergyRunner export."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from fakes.links import PtyEndpoint
from fakes.lpm01a import FakeLpm01a

from analyzers.errors import AnalyzerConnectionError, AnalyzerError, AnalyzerProtocolError
from analyzers.lpm01a import Lpm01aAnalyzer, write_energy_runner
from analyzers.lpm01a.stream import EventLine, SampleBlock, StreamParser, TimeStampLine, parse_tokens
from analyzers.trace import NO_MARK
from rules import cli as power_check
from rules.tiny.windows import from_trace

SETUP = [
    "htc",
    "version",
    "pwr off",
    "acqtime inf",
    "trigdelay 0",
    "trigsrc sw",
    "eventsrc d7 fal",
    "output energy",
    "format ascii_dec",
    "volt 3000m",
    "pwr on nostatus",
]


@contextmanager
def fake_board(fake: FakeLpm01a) -> Iterator[PtyEndpoint]:
    endpoint = PtyEndpoint(fake, line_end=b"\r\n")
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.close()


def test_tokens_keep_every_digit_the_board_sends() -> None:
    values = parse_tokens([b"6409-07", b"1235-10", b"1000-03"])
    assert values.tolist() == [6.409e-4, 1.235e-7, 1.0]
    parser = StreamParser()
    items = parser.feed(b"PowerShield > ack start\r\n6409-07\r\n64")
    items += parser.feed(
        b"10-07\r\nevent 1 fal\r\n6411-07\r\nTimeStamp: 001s 250ms, buff 03%\r\nsummary beg\r\nx\r\n"
    )
    blocks = [i.values.tolist() for i in items if isinstance(i, SampleBlock)]
    assert blocks == [[6.409e-4], [6.41e-4], [6.411e-4]]  # one block per feed, split at the event
    assert EventLine(1, "fal") in items and TimeStampLine(1.25, 3) in items


def test_connecting_takes_control_configures_and_closing_releases() -> None:
    fake = FakeLpm01a()
    with fake_board(fake) as endpoint:
        meter = Lpm01aAnalyzer.from_device(endpoint.address, volts=3.0)
        assert fake.received == SETUP and fake.in_control
        assert meter.identify().firmware == "1.0.5" and meter.identify().model == "LPM01A"
        meter.close()
        meter.close()
        assert fake.received[-1] == "hrc" and not fake.in_control


def test_energy_stream_with_events_becomes_a_marked_trace() -> None:
    fake = FakeLpm01a(events_at=(200, 400, 700))
    with fake_board(fake) as endpoint, Lpm01aAnalyzer.from_device(endpoint.address) as meter:
        meter.start(0.001, "tiny")
        time.sleep(1.0)
        meter.stop()
        trace = meter.fetch()
        events = meter.events()
        assert fake.received[-3:] == ["freq 1k", "start", "stop"]
    n = len(trace)
    assert n == fake.streamed and n > 750
    # Sample i stands for the millisecond ending at t0 + (i+1) ms: an exact grid.
    assert np.all(np.diff(trace.time_ns) == 1_000_000)
    energy = np.array([fake.value(i) for i in range(n)])
    assert trace.watts.tolist() == (energy * 1000).tolist()
    assert trace.amps.tolist() == (energy * 1000 / 3.0).tolist()
    assert trace.energy_j is not None and trace.energy_j[-1] == pytest.approx(energy.sum(), rel=1e-12)
    assert [(e.number, e.edge, e.samples_before) for e in events] == [
        (1, "fal", 200),
        (2, "fal", 400),
        (3, "fal", 700),
    ]
    assert [e.time_ns for e in events] == trace.time_ns[[200, 400, 700]].tolist()
    marks = np.asarray(trace.marks.astype(object))
    assert set(marks[:200]) == {"tiny"} and set(marks[200:400]) == {"tiny#event1"}
    assert set(marks[400:700]) == {"tiny#event2"} and set(marks[700:]) == {"tiny#event3"}
    assert len(meter.board_timestamps) == n // 100
    # The Tiny window arithmetic on the raw trace: window 1 is [event 2, event 3).
    tiny = from_trace(trace, [e.time_ns for e in events], inferences_per_window=10)
    assert tiny.windows[0].energy_uj == pytest.approx(energy[400:700].sum() * 1e6, rel=1e-12)


def test_capture_exports_an_energy_runner_folder_that_power_check_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeLpm01a(events_at=(100, 200, 400, 500, 800))
    with fake_board(fake) as endpoint, Lpm01aAnalyzer.from_device(endpoint.address) as meter:
        meter.start(0.001)
        time.sleep(1.0)
        meter.stop()
        trace = meter.fetch()
        events = [e.time_ns for e in meter.events()]
    folder = tmp_path / "energy"
    write_energy_runner(folder, trace, events, rate_hz=1000, inferences_per_window=10, volts=3.0)
    assert json.loads((folder / "trace1-timestamps.json").read_text()) == [0.1, 0.2, 0.4, 0.5, 0.8]
    status = power_check.main([str(folder), "--json"])
    result = json.loads(capsys.readouterr().out)[0]
    energy_uj = np.array([fake.value(i) for i in range(len(trace))]) * 1e6
    windows = [energy_uj[200:400].sum(), energy_uj[500:800].sum()]
    assert [w["energy_uj"] for w in result["windows"]] == pytest.approx(windows, rel=1e-6)
    assert result["uj_per_inference"] == pytest.approx(np.median(windows) / 10, rel=1e-6)
    # A one-second capture is too short for MLPerf Tiny, and the checker says so.
    assert status == 1 and not result["valid"]
    assert "window 1 lasts 0.200 s, under the 10 s minimum" in result["errors"]


def test_current_output_and_the_intervals_it_accepts() -> None:
    fake = FakeLpm01a()
    with (
        fake_board(fake) as endpoint,
        Lpm01aAnalyzer.from_device(endpoint.address, output="current", volts=1.8) as meter,
    ):
        assert "output current" in fake.received and "volt 1800m" in fake.received
        meter.start(0.01)
        time.sleep(0.3)
        meter.stop()
        trace = meter.fetch()
        with pytest.raises(
            AnalyzerError, match=r"cannot sample every 0\.003 s \(its intervals are 1, 0\.5, .*, 0\.0001 s\)"
        ):
            meter.start(0.003)
    amps = np.array([fake.value(i) for i in range(len(trace))])
    assert len(trace) >= 20 and trace.amps.tolist() == amps.tolist()
    assert trace.watts.tolist() == (amps * 1.8).tolist()
    assert np.all(trace.mark_codes == NO_MARK)


def test_a_refused_setting_releases_control_and_says_what_the_board_said() -> None:
    fake = FakeLpm01a(refuse=frozenset({"eventsrc"}))
    with fake_board(fake) as endpoint:
        with pytest.raises(AnalyzerProtocolError) as raised:
            Lpm01aAnalyzer.from_device(endpoint.address)
        assert str(raised.value) == (
            f"{endpoint.address}: the LPM01A refused 'eventsrc d7 fal': 'eventsrc' is not supported by this "
            "firmware (check the board's firmware version and the settings passed to the driver)"
        )
        assert fake.received[-1] == "hrc" and not fake.in_control
    with pytest.raises(AnalyzerError, match=r"outside the LPM01A's 1\.8-3\.3 V"):
        Lpm01aAnalyzer.from_device("/dev/null", volts=5.0)


def test_a_disconnect_mid_stream_keeps_the_samples_and_then_says_so() -> None:
    fake = FakeLpm01a(disconnect_after=300)
    with fake_board(fake) as endpoint:
        meter = Lpm01aAnalyzer.from_device(endpoint.address, timeout_s=0.5)
        meter.start(0.001)
        # Every sample that arrived comes out before the failure, however the reads fall (no timing).
        received = 0
        deadline = time.monotonic() + 10
        with pytest.raises(AnalyzerConnectionError, match="connection lost"):
            while time.monotonic() < deadline:
                received += len(meter.fetch())
                time.sleep(0.05)
        assert received == 300
        meter.close()


def test_microwatts_keep_the_boards_digits_beyond_ptds_six_decimals() -> None:
    fake = FakeLpm01a(power_w=lambda i: 12.3456e-6)
    with fake_board(fake) as endpoint, Lpm01aAnalyzer.from_device(endpoint.address) as meter:
        meter.start(0.01)
        time.sleep(0.25)
        meter.stop()
        trace = meter.fetch()
    # 1235-10 J per 10 ms sample: 12.35 µW, where PTD would print 0.000012.
    assert len(trace) >= 15 and set(trace.watts.tolist()) == {1235 / 1e10 * 100}
    assert trace.energy_j is not None and trace.energy_j[-1] == pytest.approx(
        len(trace) * 1.235e-7, rel=1e-12
    )
