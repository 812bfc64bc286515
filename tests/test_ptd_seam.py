"""The director learns what its PTD exchanges did from the client's typed record, not from their text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_ptd_client_support import simulated_daemon

from analyzers.ptd.client.protocol import PtdClient
from analyzers.ptd.client.replies import PtdReplyError

DIRECTOR = Path(__file__).parent.parent / "power_director"


def test_the_client_records_what_each_exchange_did() -> None:
    with simulated_daemon() as (server, _analyzer, clock), PtdClient("127.0.0.1", server.port) as client:
        client.connect()
        client.go(1000, 0, "s_testing")
        clock.advance(3.0)
        with client.record.aside(lambda message: message.read) as reads:
            client.read_samples()
        client.stop()
        client.go(1000)
        client.stop()
        exchanges = client.record.exchanges()
    assert [(m.cmd, m.started, m.completed, m.read) for m in exchanges] == [
        ("Hello", None, False, False),
        ("Go,1000,0,s_testing", "s_testing", False, False),
        ("Stop", None, True, False),
        ("Go,1000,0", "notset", False, False),
        ("Stop", None, True, False),
    ]
    assert [m.cmd for m in reads] == ["RL,*,*", "RL"] and all(m.read for m in reads)
    # The server.json form of the record is still the reference's {cmd, reply}.
    assert {tuple(m) for m in client.messages_json()} == {("cmd", "reply")}


def test_a_refused_go_starts_nothing_in_the_record() -> None:
    with simulated_daemon() as (server, _analyzer, _clock), PtdClient("127.0.0.1", server.port) as client:
        client.connect()
        client.go(1000)
        with pytest.raises(PtdReplyError, match="was refused"):
            client.go(1000)  # a measurement runs already: the daemon refuses
        second = client.record.exchanges()[-1]
    assert second.cmd == "Go,1000,0" and second.started is None


def test_the_director_reads_no_reply_text_and_reaches_into_no_analyzer() -> None:
    for path in sorted(DIRECTOR.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(DIRECTOR.parent)
        assert not re.search(r"getattr\(\s*self\.(analyzer|ptd|client)", source), (
            f"{where} reaches into an analyzer"
        )
        assert ".client.messages" not in source, f"{where} edits the PTD client's record"
        assert not re.search(r"reply[\w.()]*\.(startswith|split)\(", source), f"{where} parses PTD reply text"
