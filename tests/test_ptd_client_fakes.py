"""The PTD client against scripted fakes that answer like PTDaemon 1.9.x, and fail like it."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest
from test_ptd_client_support import (
    DROP,
    IDENTIFY_1_9_2,
    ScriptedPtd,
    VirtualTime,
    line,
    ptd_1_9_answer,
    sample_line,
)

from analyzers.errors import AnalyzerConnectionError
from analyzers.formats.ptd_time import parse_ptd_time
from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.ptd.client.protocol import PtdClient, SamplesLost
from analyzers.ptd.client.replies import PtdReplyError
from analyzers.ptd.client.transport import ConnectPolicy, ReplyTimeout
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK

FAST = ConnectPolicy(connect_timeout_s=2.0, command_timeout_s=1.0)
SAMPLES = [sample_line(6, "4.450000"), sample_line(7, "-1.000000"), sample_line(8, "-2.000000")]


def test_a_1_9_daemon_is_identified_and_read_through_the_rl_fallback() -> None:
    with (
        ScriptedPtd(lambda r: ptd_1_9_answer(r, SAMPLES)) as fake,
        PtdClient("127.0.0.1", fake.port, FAST) as client,
    ):
        identity = client.identify()
        samples = client.read_samples()
        again = client.read_samples()
        uncertainty = client.uncertainty()
    assert (identity.model, identity.version.release, identity.version.crc) == (
        "YokogawaWT330E",
        "1.9.2",
        "e8c7a49a",
    )
    assert identity.version.build_date == dt.date(2020, 12, 8)
    assert identity.os.startswith("Linux 5.8.0-43-generic #49~20.04.1-Ubuntu") and identity.mode == "power"
    assert (identity.vendor, identity.serial, identity.firmware) == ("YOKOGAWA", "C3VD30030E", "F1.04")
    assert identity.is_accepted and identity.calibration_date == "no_cal_date" and identity.channels == 1
    assert fake.requests == ["Hello", "Identify", "RL,*,*", "RL", "RL", "Uncertainty"]
    first = parse_ptd_time("03-03-2021 00:54:06.184")
    assert samples.time_ns.tolist() == [first, first + 1_000_000_000, first + 2_000_000_000]
    assert samples.flags.tolist() == [SAMPLE_OK, SAMPLE_ERROR, SAMPLE_MISSED]
    assert samples.watts[0] == 4.45 and np.isnan(samples.watts[1:]).all()
    assert samples.volts.tolist() == [229.87] * 3
    assert len(again) == 3  # this fake re-sends the same lines; the client does not filter
    assert (uncertainty[0].avg, uncertainty[0].max, uncertainty[0].total, uncertainty[0].valid) == (
        0.006264,
        0.009201,
        692,
        692,
    )


def test_replies_split_across_tcp_segments_parse_the_same() -> None:
    def in_pieces(request: str) -> list[bytes]:
        whole = b"".join(ptd_1_9_answer(request, SAMPLES))
        # Seven-byte pieces cut CRLFs, numbers and timestamps in two.
        return [whole[i : i + 7] for i in range(0, len(whole), 7)]

    with ScriptedPtd(in_pieces, pause_s=0.001) as fake, PtdClient("127.0.0.1", fake.port, FAST) as client:
        identity = client.identify()
        samples = client.read_samples()
    assert identity.line == IDENTIFY_1_9_2
    assert samples.flags.tolist() == [SAMPLE_OK, SAMPLE_ERROR, SAMPLE_MISSED]
    assert samples.amps.tolist() == [0.4523] * 3


def test_a_connection_dropped_mid_rl_keeps_the_complete_lines_and_counts_the_rest() -> None:
    cut = len(line(SAMPLES[1])) // 2

    def drop_once(request: str) -> list[bytes]:
        if request == "RL" and not dropped.is_set():
            dropped.set()
            return [line("Last 3 samples"), line(SAMPLES[0]), line(SAMPLES[1])[:cut], DROP]
        return ptd_1_9_answer(request, [sample_line(9, "5.000000")])

    dropped = threading.Event()
    with (
        ScriptedPtd(drop_once) as fake,
        PtdAnalyzer(f"ptd://127.0.0.1:{fake.port}?command_timeout=1") as analyzer,
    ):
        analyzer.start(1.0, "m")
        # The contract: the complete line that arrived comes first, the failure with the next call.
        received = analyzer.fetch()
        with pytest.raises(SamplesLost) as caught:
            analyzer.fetch()
        recovered = analyzer.fetch()  # reconnects, then reads what the daemon still has
        stats = analyzer.stats()
    assert received.watts.tolist() == [4.45] and list(received.marks.astype(str)) == ["m"]
    assert caught.value.lost == 2 and len(caught.value.received) == 1
    assert str(caught.value).startswith(
        f"127.0.0.1:{fake.port}: the daemon closed the connection before answering 'RL' after 1 of 3 samples"
    )
    assert recovered.watts.tolist() == [5.0]
    assert list(recovered.marks.astype(str)) == ["m"]
    assert stats.extra == {"lost_samples": 2.0, "reconnects": 1.0}
    assert fake.connections == 2


def test_a_daemon_that_takes_15_s_to_listen_is_waited_for() -> None:
    fake = ScriptedPtd(ptd_1_9_answer, listen=False)
    clock = VirtualTime(on_time=lambda now: fake.listen() if now >= 15.0 and fake._thread is None else None)
    with fake:
        client = PtdClient("127.0.0.1", fake.port, monotonic=clock.monotonic, sleep=clock.sleep)
        client.connect()
        client.close()
    # Back-off 0.1 s doubling to 2 s: the 12th attempt, at 15.1 s, finds the daemon listening.
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert client.connections[0].attempts == 12
    assert fake.requests == ["Hello"]


def test_a_daemon_that_never_listens_is_one_sentence_after_the_connect_timeout() -> None:
    fake = ScriptedPtd(ptd_1_9_answer, listen=False)
    clock = VirtualTime()
    with fake, pytest.raises(AnalyzerConnectionError) as caught:
        policy = ConnectPolicy(connect_timeout_s=5.0)
        PtdClient("127.0.0.1", fake.port, policy, monotonic=clock.monotonic, sleep=clock.sleep).connect()
    assert str(caught.value) == (
        f"127.0.0.1:{fake.port}: no PTD daemon answered in 5 s (7 attempts, last: Connection refused) "
        "(is it running on that port? PTDaemon over USB can take ~20 s to listen)"
    )


def test_a_daemon_that_starts_listening_later_in_real_time_is_reached() -> None:
    fake = ScriptedPtd(ptd_1_9_answer, listen=False)
    timer = threading.Timer(0.3, fake.listen)
    timer.start()
    started = time.monotonic()
    with fake, PtdClient("127.0.0.1", fake.port, FAST) as client:
        assert client.identify().model == "YokogawaWT330E"
    assert 0.3 <= time.monotonic() - started < 1.9
    assert client.connections[0].attempts >= 3


def test_something_that_is_not_ptd_is_refused_at_the_greeting() -> None:
    with ScriptedPtd(lambda r: [line("SSH-2.0-OpenSSH_9.6")]) as fake, pytest.raises(PtdReplyError) as caught:
        PtdClient("127.0.0.1", fake.port, FAST).connect()
    assert str(caught.value) == (
        f"127.0.0.1:{fake.port}: not a PTD daemon: it answered Hello with 'SSH-2.0-OpenSSH_9.6' "
        "(expected 'Hello, PTDaemon here!'; check host and port)"
    )


def test_old_refusals_are_typed_with_their_reply() -> None:
    with ScriptedPtd(ptd_1_9_answer) as fake, PtdClient("127.0.0.1", fake.port, FAST) as client:
        with pytest.raises(PtdReplyError) as invalid:
            client.read_ranges("*")
        with pytest.raises(PtdReplyError) as unknown:
            client.mark("x")
    assert (invalid.value.command, invalid.value.reply) == ("RR,*", "Unknown command")
    assert str(unknown.value) == f"127.0.0.1:{fake.port}: 'Mark,x' was refused: Unknown command"


def test_a_daemon_refusing_every_rl_form_is_an_error_naming_the_last() -> None:
    with (
        ScriptedPtd(lambda r: ptd_1_9_answer("Hello") if r == "Hello" else [line("Unknown command")]) as fake,
        PtdClient("127.0.0.1", fake.port, FAST) as client,
        pytest.raises(PtdReplyError) as caught,
    ):
        client.read_samples()
    assert fake.requests[1:] == ["RL,*,*", "RL", "DC-RL"]
    assert str(caught.value) == (
        f"127.0.0.1:{fake.port}: 'DC-RL' answered 'Unknown command', expected 'Last N samples'"
    )


def test_garbage_sample_lines_name_the_line() -> None:
    body = [line("Last 2 samples"), line(SAMPLES[0]), line("Time,03-03-2021 00:54:07.184,Watts,4.4")]
    with ScriptedPtd(lambda r: body if r.startswith("RL") else ptd_1_9_answer(r)) as fake:
        with PtdClient("127.0.0.1", fake.port, FAST) as client, pytest.raises(PtdReplyError) as caught:
            client.read_samples()
        assert not client.connected  # the stream position is unreliable after a bad body
    assert "bad sample lines in the 'RL,*,*' reply: sample line 2 does not match" in str(caught.value)


def test_a_silent_reply_times_out_and_a_harmless_command_is_resent_on_a_new_connection() -> None:
    silent = {"Watts": 1, "Go,1000,0,m": 1}

    def sometimes_silent(request: str) -> list[bytes]:
        if silent.get(request, 0) > 0:
            silent[request] -= 1
            return []
        return ptd_1_9_answer(request) if request != "Go,1000,0,m" else [line("Starting untimed measurement")]

    policy = ConnectPolicy(connect_timeout_s=2.0, command_timeout_s=0.2)
    with ScriptedPtd(sometimes_silent) as fake, PtdClient("127.0.0.1", fake.port, policy) as client:
        watts = client.watts()
        with pytest.raises(ReplyTimeout) as caught:
            client.go(1000, 0, "m")
    assert watts[0].samples == 692
    assert fake.requests == ["Hello", "Watts", "Hello", "Watts", "Go,1000,0,m"]
    assert str(caught.value) == (
        f"127.0.0.1:{fake.port}: no reply to 'Go,1000,0,m' within 0.2 s; whether the daemon acted on "
        "'Go,1000,0,m' is unknown (the daemon or its meter may be stuck; check its console)"
    )
    assert [e.reason for e in client.connections] == [
        "first connection",
        "'Watts' failed: no reply to 'Watts' within 0.2 s",
    ]
