"""The LPM01A's session, byte for byte, over a scripted transport (the pty fake: `test_lpm01a.py`).

Every command is spelled out as EnergyRunner sends it and every reply as the board prints it
(`PowerShield > ack …`, `dddd-ee` tokens, `event`, `TimeStamp:` and the summary after `stop`).
"""

from __future__ import annotations

import time

import pytest
from test_lpm01a import SETUP as LPM01A_CONNECT

from analyzers.errors import AnalyzerProtocolError
from analyzers.lpm01a import Lpm01aAnalyzer
from analyzers.scripted_transport import Exchange, ScriptedTransport

ACK = "PowerShield > ack "
SETUP = LPM01A_CONNECT[2:]  # after `htc` and `version`: the same list the pty fake's test expects
# J per sample at 1 kHz: 1.234 µJ is 1.234 mW
STREAM = ["1234-09", "1235-09", "1236-09", "1237-09", "event 1 fal", "2001-09", "2002-09", "2003-09"]
STREAM += ["TimeStamp: 000s 007ms, buff 00%"]


def connect_script() -> list[Exchange]:
    return [
        Exchange("htc", [ACK + "htc"]),
        Exchange("version", [ACK + "version 1.0.5"]),
        *(Exchange(command, [ACK + command]) for command in SETUP),
    ]


def test_a_whole_session_is_the_scripted_exchange() -> None:
    script = [
        *connect_script(),
        Exchange("freq 1k", [ACK + "freq 1k"]),
        Exchange("start", [ACK + "start", *STREAM]),
        Exchange(
            "stop",
            [ACK + "stop", "Acquisition completed", "summary beg", "acquisition time: 000s", "summary end"],
        ),
        Exchange("hrc", [ACK + "hrc"]),
    ]
    transport = ScriptedTransport(script, device="scripted-lpm01a", line_end="\r\n")
    meter = Lpm01aAnalyzer(transport)
    assert meter.identify().firmware == "1.0.5"
    meter.start(0.001, mark="run")
    samples = []
    deadline = time.monotonic() + 5
    while sum(len(s) for s in samples) < 7 and time.monotonic() < deadline:
        samples.append(meter.fetch())
        time.sleep(0.01)
    meter.stop()
    samples.append(meter.fetch())
    meter.close()
    transport.verify()
    watts = [round(w, 9) for s in samples for w in s.watts.tolist()]
    assert watts == [0.001234, 0.001235, 0.001236, 0.001237, 0.002001, 0.002002, 0.002003]
    marks = [m for s in samples for m in s.marks]
    assert marks == ["run"] * 4 + ["run#event1"] * 3
    assert [(e.number, e.edge, e.samples_before) for e in meter.events()] == [(1, "fal", 4)]
    assert meter.board_timestamps == [(7, 0.007, 0)]


def test_a_refused_setting_names_the_detail_and_hands_control_back() -> None:
    refused = [
        Exchange(
            "volt 3000m",
            ["PowerShield > error: wrong value", "Error detail: voltage must be between 1800m and 3300m"],
        ),
        Exchange("hrc", [ACK + "hrc"]),
    ]
    script = [*connect_script()[:-2], *refused]
    transport = ScriptedTransport(script, device="scripted-lpm01a", line_end="\r\n")
    with pytest.raises(
        AnalyzerProtocolError, match="refused 'volt 3000m': voltage must be between 1800m and 3300m"
    ):
        Lpm01aAnalyzer(transport)
    transport.verify()
