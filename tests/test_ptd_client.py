"""The PTD client and `PtdAnalyzer` against our own daemon over loopback TCP (virtual time)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ptd_client_support import START_NS, simulated_daemon

from analyzers.base import AUTO
from analyzers.errors import AnalyzerConnectionError, AnalyzerError, AnalyzerStateError
from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.ptd.client.protocol import PtdClient
from analyzers.ptd.client.replies import PtdReplyError
from analyzers.ptd.client.transport import DaemonUnreachable
from analyzers.registry import create_analyzer
from analyzers.trace import SAMPLE_MISSED, SAMPLE_OK

S = 1_000_000_000
GO_REPLY = "Starting untimed measurement, maximum 500000 samples at 1000ms with 0 rampup samples"


def test_the_current_reference_sequence_with_three_channels() -> None:
    with simulated_daemon(channels=3) as (server, _, clock), PtdClient("127.0.0.1", server.port) as client:
        client.connect()
        identity = client.identify()
        ranges = client.read_ranges()
        client.set_range("V", AUTO)
        client.set_range("A", AUTO)
        assert client.go(1000, 0, "2026-01-02_03-04-05_ranging") == GO_REPLY
        clock.advance(10)
        assert client.stop() == "Stopping untimed measurement"
        samples = client.read_samples()
        uncertainty = client.uncertainty(per_channel=True)
        watts = client.watts(per_channel=True)
        with pytest.raises(AnalyzerStateError, match="no measurement to stop"):
            client.stop()
        client.set_range("A", 1.1 * 1.5217)

    assert identity.model == "SimulatedWT310" and identity.channels == 3 and identity.can_set_ranges
    assert ranges[0].volts.auto is True and ranges[0].volts.value == 600.0
    # Default profile: 80 W for 2 s, a 1 s ramp, then 350 W; sample k stands for (k-1 s, k s].
    assert samples.time_ns.tolist() == [START_NS + k * S for k in range(1, 11)]
    assert samples.watts.tolist() == [80.0, 80.0] + [350.0] * 8
    assert samples.channel_count == 3
    assert np.isnan(samples.volts).all()  # PTD's multi-channel sum block has no volts
    assert samples.channels[0].volts.tolist() == [230.0] * 10
    assert watts[0].avg_power_w == 296.0 and (watts[0].samples, watts[0].errors, watts[0].valid) == (
        10,
        0,
        10,
    )
    assert len(watts) == 4 and len(uncertainty) == 4
    assert (uncertainty[0].total, uncertainty[0].invalid, uncertainty[0].unknown) == (10, 0, 0)
    assert [m["cmd"] for m in client.messages_json()] == [
        "Hello",
        "Identify",
        "RR",
        "SR,V,Auto",
        "SR,A,Auto",
        "Go,1000,0,2026-01-02_03-04-05_ranging",
        "Stop",
        "RL,*,*",
        "Uncertainty,*",
        "Watts,*",
        "Stop",
        "SR,A,1.673870",
    ]
    replies = [m["reply"] for m in client.messages_json()]
    assert replies[7] == "Last 10 samples" and replies[10] == "Error: no measurement to stop"


def test_a_single_channel_daemon_makes_the_client_fall_back_to_rl_once() -> None:
    with simulated_daemon(channels=1) as (server, _, clock), PtdClient("127.0.0.1", server.port) as client:
        client.go(1000, 0, "m")
        clock.advance(3)
        first = client.read_samples()
        clock.advance(2)
        second = client.read_samples()
    assert client.sample_command == "RL"
    assert [m["cmd"] for m in client.messages_json()[2:]] == ["RL,*,*", "RL", "RL"]
    assert client.messages_json()[2]["reply"] == "Invalid number of parameters"
    assert first.time_ns.tolist() == [START_NS + k * S for k in (1, 2, 3)]
    assert second.time_ns.tolist() == [START_NS + k * S for k in (4, 5)]
    assert first.volts.tolist() == [230.0] * 3 and first.channel_count == 0


def test_a_dc_daemon_makes_the_client_fall_back_to_dc_rl() -> None:
    with (
        simulated_daemon(channels=1, dc=True) as (server, _, clock),
        PtdClient("127.0.0.1", server.port) as client,
    ):
        client.go(1000, 0, "dc")
        clock.advance(2)
        samples = client.read_samples()
    assert [(m["cmd"], m["reply"]) for m in client.messages_json()[2:]] == [
        ("RL,*,*", "Unknown command"),
        ("RL", "Unknown command"),
        ("DC-RL", "Last 2 samples"),
    ]
    assert client.sample_command == "DC-RL" and len(samples) == 2


def test_missed_samples_arrive_as_flags_never_as_watts() -> None:
    with simulated_daemon() as (server, meter, clock), PtdClient("127.0.0.1", server.port) as client:
        client.go(1000, 0, "m")
        clock.advance(2)
        meter.miss_next(2)
        clock.advance(3)
        samples = client.read_samples()
        watts = client.watts()[0]
    assert samples.flags.tolist() == [SAMPLE_OK, SAMPLE_OK, SAMPLE_MISSED, SAMPLE_MISSED, SAMPLE_OK]
    assert np.isnan(samples.watts[2:4]).all() and samples.watts[4] == 350.0
    assert (watts.samples, watts.errors, watts.valid) == (5, 2, 3)


def test_a_refused_range_names_the_command_and_the_reply() -> None:
    with simulated_daemon() as (server, _, _clock), PtdClient("127.0.0.1", server.port) as client:
        client.go(1000, 0, "busy")
        with pytest.raises(PtdReplyError) as caught:
            client.set_range("V", 300.0)
    assert caught.value.reply == "Meter busy"
    assert str(caught.value) == f"127.0.0.1:{server.port}: 'SR,V,300.000000' was refused: Meter busy"


def test_ptd_analyzer_from_the_registry_measures_marks_and_stops() -> None:
    with simulated_daemon(channels=3) as (server, _, clock):
        analyzer = create_analyzer("ptd", f"ptd://127.0.0.1:{server.port}")
        assert isinstance(analyzer, PtdAnalyzer)
        with analyzer:
            assert analyzer.channel_count == 3 and analyzer.supports_ranges
            assert analyzer.get_ranges(2).amps.auto is True
            analyzer.start(1.0, "ranging")
            with pytest.raises(AnalyzerStateError):
                analyzer.start(1.0, "again")
            clock.advance(4)
            analyzer.set_mark("testing")
            clock.advance(3)
            analyzer.stop()
            assert not analyzer.running
            trace = analyzer.fetch()
            assert len(analyzer.fetch()) == 0
            stats = analyzer.stats()
            with pytest.raises(AnalyzerStateError):
                analyzer.stop()
            messages = analyzer.messages_json()
    assert trace.time_ns.tolist() == [START_NS + k * S for k in range(1, 8)]
    assert list(trace.marks.astype(str)) == ["ranging"] * 4 + ["testing"] * 3
    assert trace.channel_count == 3
    assert (stats.samples, stats.errors, stats.valid) == (7, 0, 7)
    assert stats.avg_power_w == pytest.approx((2 * 80 + 5 * 350) / 7, abs=1e-6)
    assert stats.extra == {"lost_samples": 0.0, "reconnects": 0.0}
    assert [m["cmd"] for m in messages] == [
        "Hello",
        "Identify",
        "RR,2",
        "Go,1000,0,ranging",
        "RL,*,*",
        "Mark,testing",
        "Stop",
        "RL,*,*",
        "Watts",
        "Uncertainty",
    ]


def test_ptd_analyzer_refuses_an_interval_that_is_not_whole_milliseconds() -> None:
    with simulated_daemon() as (server, _, _clock), PtdAnalyzer(f"ptd://127.0.0.1:{server.port}") as analyzer:
        with pytest.raises(AnalyzerError) as refused:
            analyzer.start(0.0015)
        assert str(refused.value) == (
            f"ptd://127.0.0.1:{server.port}: PTD samples at whole milliseconds; "
            "0.0015 s is not a whole number of them"
        )
        assert not analyzer.running


def test_a_daemon_gone_for_the_whole_connect_timeout_is_unreachable_and_close_sends_nothing() -> None:
    with simulated_daemon() as (server, _, clock):
        analyzer = PtdAnalyzer(f"ptd://127.0.0.1:{server.port}?connect_timeout=0.5&command_timeout=1")
        analyzer.start(1.0)
        clock.advance(3)
        assert len(analyzer.fetch()) == 3 and analyzer.unreachable is None
        server.close()
        with pytest.raises(AnalyzerConnectionError):
            analyzer.fetch()  # the connection drops mid-exchange: not yet given up (it may come back)
        assert analyzer.unreachable is None
        with pytest.raises(DaemonUnreachable, match=r"no PTD daemon answered in 0\.5 s"):
            analyzer.fetch()  # the reconnect spent its 0.5 s
        assert analyzer.unreachable is not None and "no PTD daemon answered" in analyzer.unreachable
        sent = len(analyzer.client.record)
        connects = len(analyzer.client.connections)
        analyzer.close()  # no Stop: it would retry for another connect_timeout
        assert not analyzer.running
        assert (len(analyzer.client.record), len(analyzer.client.connections)) == (sent, connects)


def test_a_daemon_that_answers_again_is_reachable_again() -> None:
    with simulated_daemon() as (server, _, _clock):
        client = PtdClient("127.0.0.1", server.port)
        client.unreachable = DaemonUnreachable("127.0.0.1", "gone a while ago")
        client.connect()
        assert client.unreachable is None
        client.close()
