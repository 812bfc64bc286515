"""`ScriptedTransport` behaves like a device: late replies, silence, a stream, and nothing unused."""

from __future__ import annotations

import time

import pytest

from analyzers.errors import AnalyzerConnectionError
from analyzers.scripted_transport import Exchange, ScriptedTransport


def test_a_late_reply_waits_and_silence_times_out_like_a_device() -> None:
    transport = ScriptedTransport([Exchange("WAIT?", ["1"], delay_s=0.2), Exchange("QUIET?")], timeout_s=0.1)
    began = time.monotonic()
    assert transport.query("WAIT?", timeout_s=2.0) == "1"
    assert time.monotonic() - began >= 0.2
    with pytest.raises(AnalyzerConnectionError, match=r"no complete reply within 0\.1 s"):
        transport.query("QUIET?")
    transport.verify()


def test_unasked_lines_stream_with_the_line_end() -> None:
    transport = ScriptedTransport(
        [Exchange("start", ["ack start"]), Exchange(None, ["1", "2"])], line_end="\r\n"
    )
    transport.write_line("start")
    assert transport.read_available(1.0) == b"ack start\r\n1\r\n2\r\n"
    assert transport.read_available(0.05) == b""
    transport.verify()


def test_replies_never_read_and_a_closed_link_are_reported() -> None:
    transport = ScriptedTransport([Exchange("*IDN?", ["X", "extra"])])
    assert transport.query("*IDN?") == "X"
    with pytest.raises(AssertionError, match="1 reply line\\(s\\) never read, first 'extra'"):
        transport.verify()
    transport.close()
    with pytest.raises(AnalyzerConnectionError, match="the link is closed"):
        transport.write_line("*IDN?")
    assert transport.written == ["*IDN?"]


def test_a_held_reply_arrives_only_once_the_test_lets_it() -> None:
    released = {"now": False}
    transport = ScriptedTransport(
        [Exchange("WAIT?", ["update"], held_until=lambda: released["now"])], timeout_s=0.1
    )
    transport.write_line("WAIT?")
    with pytest.raises(AnalyzerConnectionError, match="no complete reply"):
        transport.read_line()  # held: the device has not answered yet
    released["now"] = True
    assert transport.read_line() == "update"
    transport.verify()
