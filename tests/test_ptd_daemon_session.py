"""The command handler without sockets: a deterministic fake meter in, exact replies and log lines out."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from analyzers.base import CAP_UNCERTAINTY, CAP_WATTS, Analyzer, Identity, MeasurementStats
from analyzers.formats.sample_encode import encode_lines
from analyzers.formats.sample_layout import data_log_layout
from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.wire import go_reply, parse_identify_reply, parse_request, parse_rl_header
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, ChannelBlock, Trace

T0 = 1_614_732_150_170_000_000  # 03-03-2021 00:42:30.170 UTC


class FakeMeter(Analyzer):
    """Hands out a scripted list of chunks, one per fetch while running; no ranges."""

    name = "fake"

    def __init__(self, chunks: list[Trace]) -> None:
        super().__init__("fake0")
        self.chunks = chunks
        self._running = False
        self.starts: list[tuple[float, str]] = []

    def identify(self) -> Identity:
        return Identity(model="FakeWT", capabilities=frozenset({CAP_WATTS, CAP_UNCERTAINTY}))

    @property
    def channel_count(self) -> int:
        return 1

    def start(self, interval_s: float, mark: str = "") -> None:
        self._running = True
        self.starts.append((interval_s, mark))

    def set_mark(self, mark: str) -> None:
        pass

    def fetch(self) -> Trace:
        if self._running and self.chunks:
            return self.chunks.pop(0)
        return Trace.empty()

    def stop(self) -> None:
        self._running = False

    def stats(self) -> MeasurementStats:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._running


def chunk() -> Trace:
    return Trace.from_columns(
        T0 + np.arange(4) * 1_000_000_000,
        watts=[5.0, np.nan, np.nan, 4.45],
        volts=[249.21, 249.0, np.nan, 249.2],
        amps=[0.0404, 0.04, np.nan, 0.0405],
        pf=[0.4423, 0.44, np.nan, 0.4424],
        uncertainty=[0.0159, np.nan, np.nan, np.nan],
        flags=[0, SAMPLE_ERROR, SAMPLE_MISSED, 0],
    )


def session_with(chunks: list[Trace], tmp_path: Path) -> tuple[PtdCommandHandler, io.StringIO, Path]:
    console = io.StringIO()
    log_path = tmp_path / "data.log"
    clock = iter(range(T0, T0 + 10**12, 1_000_000))
    session = PtdCommandHandler(
        FakeMeter(chunks),
        ConsoleLog(console, lambda: next(clock)),
        DataLog(log_path, lambda: T0),
        DaemonConfig(idle_interval_ms=None),
    )
    return session, console, log_path


def test_measurement_replies_sentinels_and_per_sample_log_lines(tmp_path: Path) -> None:
    session, console, log_path = session_with([chunk()], tmp_path)
    assert session.handle("Go,1000,0,2021-03-03_00-42-01_ranging\r\n").text == go_reply(1000, 0)
    assert session.handle("Stop").text == "Stopping untimed measurement"
    assert session.handle("RL").lines() == [
        "Last 4 samples",
        "Time,03-03-2021 00:42:30.170,Watts,5.000000,Volts,249.210000,Amps,0.040400,PF,0.442300",
        "Time,03-03-2021 00:42:31.170,Watts,-1.000000,Volts,249.000000,Amps,0.040000,PF,0.440000",
        "Time,03-03-2021 00:42:32.170,Watts,-2.000000,Volts,-2.000000,Amps,-2.000000,PF,-2.000000",
        "Time,03-03-2021 00:42:33.170,Watts,4.450000,Volts,249.200000,Amps,0.040500,PF,0.442400",
    ]
    assert session.handle("RL").lines() == ["Last 0 samples"]  # each sample is read once
    assert session.handle("Watts").text == "Watts,4.725000,4.450000,5.000000,4,2,2"
    assert session.handle("Uncertainty").text == "Uncertainty,0.015900,0.015900,0.015900,2,1,0,1"
    assert session.handle("Stop").text == "Error: no measurement to stop"
    messages = [line[25:] for line in console.getvalue().splitlines()]
    assert messages == [
        "Go with mark '2021-03-03_00-42-01_ranging'",
        f"Response to client sent: {go_reply(1000, 0)}",
        # The meter traffic: one line per read, with the newest reading.
        "Read 4 samples from FakeWT: Watts,4.450000,Volts,249.200000,Amps,0.040500,PF,0.442400",
        "WARNING: Uncertainty 1.59% above 1.00% limit for the last measurement sample!",
        "ERROR: Bad watts reading nan from FakeWT",
        "WARNING: Missed 1 samples",
        "ERROR: Can't evaluate uncertainty of this sample!",
        "WARNING: Uncertainty unknown for the last measurement sample! channel 0",
        "Response to client sent: Stopping untimed measurement",
        "Completed test",
        "Avg watts 4.725000, min watts 4.450000, max watts 5.000000, samples 4, errors 2, valid 2",
        "Response to client sent: Last 4 samples",
        "Response to client sent: Last 0 samples",
        "Response to client sent: Watts,4.725000,4.450000,5.000000,4,2,2",
        "Response to client sent: Uncertainty,0.015900,0.015900,0.015900,2,1,0,1",
        "Response to client sent: Error: no measurement to stop",
    ]
    # Per-sample lines carry the sample's time, as PTD's do.
    assert console.getvalue().splitlines()[3].startswith("03-03-2021 00:42:30.170: WARNING")
    data = log_path.read_text().splitlines()
    assert data[1] == (
        "Time,03-03-2021 00:42:30.170,Watts,5.000000,Volts,249.210000,Amps,0.040400,PF,0.442300,"
        "Mark,2021-03-03_00-42-01_ranging"
    )
    assert "Time,03-03-2021 00:42:31.170,ERROR,Bad watts reading nan from FakeWT" in data


def test_rangeless_meter_acknowledges_ranges_and_reports_them_unknown(tmp_path: Path) -> None:
    session, console, _ = session_with([], tmp_path)
    assert session.handle("RR").text == "Ranges,-1,-1.000000,-1,-1.000000"
    assert session.handle("SR,A,0.5").text == "Range A changed"
    assert "Amp range set to 0.500000A: not applicable to FakeWT, nothing changed" in console.getvalue()


def test_timed_measurement_completes_by_itself(tmp_path: Path) -> None:
    session, console, _ = session_with([chunk()], tmp_path)
    assert (
        session.handle("Go,1000,3,timed").text
        == "Starting timed measurement, 3 samples at 1000ms with 0 rampup samples"
    )
    session.poll()
    assert "Completed test" in console.getvalue()
    assert session.handle("RL").text == "Last 3 samples"
    assert session.handle("Stop").text == "Error: no measurement to stop"


def test_intervals_and_defaults(tmp_path: Path) -> None:
    session, _, _ = session_with([], tmp_path)
    assert session.handle("Go,0,0").text == go_reply(1000, 0)  # SPEC tools' "meter default"
    assert session.analyzer.starts[-1] == (1.0, "notset")  # type: ignore[attr-defined]
    session.handle("Stop")
    assert session.handle("Go,10,0,fast").text == "Error: interval 10ms is below FakeWT's minimum of 1000ms"
    # Other intervals state their own maximum: the same 500000 s, bounded by the buffer.
    assert (
        go_reply(10, 0)
        == "Starting untimed measurement, maximum 2000000 samples at 10ms with 0 rampup samples"
    )
    assert session.handle("Go,2000,0,slow").text.startswith(
        "Starting untimed measurement, maximum 250000 samples"
    )
    assert session.handle("Mark,other").text == "Mark changed"
    assert session.handle("Reset").text == "Measurement reset"
    assert session.handle("Stop").text == "Error: no measurement to stop"


def test_dc_meter_answers_dc_rl_only(tmp_path: Path) -> None:
    console = io.StringIO()
    session = PtdCommandHandler(
        FakeMeter([chunk()]), ConsoleLog(console), None, DaemonConfig(dc=True, idle_interval_ms=None)
    )
    session.handle("Go,1000,0,dc")
    session.handle("Stop")
    assert session.handle("RL").text == "Unknown command"
    assert session.handle("RL,*,*").text == "Unknown command"  # the reference then falls back to DC-RL
    assert session.handle("DC-RL").text == "Last 4 samples"


def test_wire_helpers_round_trip() -> None:
    assert parse_request("SR,V, 249.35 \r\n").args == ("V", "249.35")
    assert parse_rl_header("Last 12 samples") == 12
    identity = parse_identify_reply(
        "YokogawaWT330E,1000,1,1,1,1,0,0,1,version=1.9.2-e8c7a49a-20201208,OS=Linux 5.8.0-43-generic,"
        "mode=power,1,1,1,0,0,no_cal_date,YOKOGAWA;WT333E;C3VD30030E;F1.04"
    )
    assert (identity.model, identity.version, identity.channels) == ("YokogawaWT330E", "1.9.2", 1)
    trace = Trace.from_columns(
        T0 + np.arange(3) * 10_000_000,
        [1.0, 2.0, 3.0],
        channels=[ChannelBlock.from_columns([0.5, 1.0, 1.5], [230.0] * 3, [0.1] * 3, [0.9] * 3)] * 2,
    )
    lines = encode_lines(trace, data_log_layout(3, 2), mark="m").to_pylist()
    assert lines[0] == (
        "Time,03-03-2021 00:42:30.170,Watts,1.000000,Volts,-1.000000,Amps,-1.000000,PF,-1.000000,Mark,m,"
        "Ch3,Watts,0.500000,Volts,230.000000,Amps,0.100000,PF,0.900000,"
        "Ch4,Watts,0.500000,Volts,230.000000,Amps,0.100000,PF,0.900000"
    )
    back = decode_sample_lines("\n".join(lines).encode())
    np.testing.assert_array_equal(back.time_ns, trace.time_ns)
    np.testing.assert_array_equal(back.watts, trace.watts)
    assert back.channel_count == 2 and list(back.marks) == ["m"] * 3
