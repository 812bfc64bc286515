"""Typed parsing of PTD replies, endpoints, console lines and `RL` bodies (no sockets)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from analyzers.errors import AnalyzerError
from analyzers.formats.ptd_time import parse_ptd_time
from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.ptd.client.console import ABOVE_LIMIT, MISSED, classify
from analyzers.ptd.client.endpoint import parse_endpoint
from analyzers.ptd.client.replies import (
    is_refusal,
    parse_identity,
    parse_uncertainty_reply,
    parse_watts_reply,
)
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK

# The 3-channel v1.0 fixture's PTDaemon on Windows, and the 1.10.0 example of PTD_AND_MLPERF_POWER.md.
IDENTIFY_WINDOWS = (
    "YokogawaWT330_multichannel,1000,1,1,1,1,0,0,1,version=1.9.2-3976349f-20201208,"
    "OS=Windows 8 / Server 2012,mode=power,1,1,2,0,0,no_cal_date,YOKOGAWA;WT333E;C2WL21011V;F1.04"
)
IDENTIFY_1_10 = (
    "YokogawaWT330,1000,1,1,1,1,0,0,1,version=1.10.0-ed9a21d2-20220817,OS=Linux 5.4.0-120-generic,"
    "mode=power,1,1,1,0,0,no_cal_date,YOKOGAWA;WT333;C2SF14011V;F1.01EM"
)


def test_identify_replies_of_two_ptd_releases() -> None:
    windows = parse_identity(IDENTIFY_WINDOWS)
    assert (windows.model, windows.os, windows.channels) == (
        "YokogawaWT330_multichannel",
        "Windows 8 / Server 2012",
        2,
    )
    assert (windows.version.release, windows.version.crc) == ("1.9.2", "3976349f")
    newer = parse_identity(IDENTIFY_1_10)
    assert newer.version.build_date == dt.date(2022, 8, 17) and newer.firmware == "F1.01EM"
    assert (
        newer.can_uncertainty and newer.can_set_ranges and not newer.can_energy and newer.interval_ms == 1000
    )
    with pytest.raises(ValueError, match="not an Identify reply"):
        parse_identity("YokogawaWT330,1000,1")


def test_watts_and_uncertainty_per_channel_with_unknowns() -> None:
    watts = parse_watts_reply("Watts,12.500000,10.000000,15.000000,4,1,3,-1.000000,-1.000000,-1.000000,4,4,0")
    assert watts[0].avg_power_w == 12.5 and (watts[0].samples, watts[0].errors, watts[0].valid) == (4, 1, 3)
    assert math.isnan(watts[1].avg_power_w) and watts[1].errors == 4
    uncertainty = parse_uncertainty_reply("Uncertainty,-1.000000,-1.000000,-1.000000,3,0,0,3")
    assert math.isnan(uncertainty[0].avg) and uncertainty[0].unknown == 3
    with pytest.raises(ValueError, match="not a Uncertainty reply"):
        parse_uncertainty_reply("Uncertainty,0.1,0.1,0.1,1,0,1")  # six fields, not seven
    with pytest.raises(ValueError):
        parse_watts_reply("Watts,1.0,1.0,1.0,-3,0,1")


def test_refusals_in_every_wording() -> None:
    for reply in (
        "Error: no measurement to stop",
        "Invalid number of parameters",
        "Unknown command",
        "Meter busy",
    ):
        assert is_refusal(reply)
    assert not is_refusal("Range V changed") and not is_refusal("Last 0 samples")


def test_endpoints() -> None:
    assert parse_endpoint("").url == "ptd://127.0.0.1:8888"
    assert parse_endpoint("127.0.0.1:9000").port == 9000
    endpoint = parse_endpoint("ptd://localhost:8889?connect_timeout=45&command_timeout=2.5")
    assert (endpoint.host, endpoint.port, endpoint.connect_timeout_s, endpoint.command_timeout_s) == (
        "localhost",
        8889,
        45.0,
        2.5,
    )
    with pytest.raises(AnalyzerError, match=r"ptd://h:1\?retries=3: unknown option 'retries'"):
        parse_endpoint("ptd://h:1?retries=3")
    with pytest.raises(AnalyzerError, match="connect_timeout must be a positive number of seconds, got '-1'"):
        parse_endpoint("ptd://h:1?connect_timeout=-1")
    with pytest.raises(AnalyzerError, match="the port is not a number"):
        parse_endpoint("ptd://h:88888")


def test_console_lines_in_both_ptd_wordings() -> None:
    assert classify(
        "03-19-2021 01:31:32.667: WARNING: Uncertainty 1.59% above 1.00% limit for the last measurement sample!"
    ) == (ABOVE_LIMIT, 1)
    assert classify("WARNING: Uncertainty 1.45%, which is above 1.00% limit for the last sample!") == (
        ABOVE_LIMIT,
        1,
    )
    assert classify("WARNING: Missed 12 samples") == (MISSED, 12)
    assert classify("Response to client sent: Range V changed") is None


def test_multi_channel_rl_body_with_sentinels_and_mixed_line_ends() -> None:
    body = (
        b"Time,03-19-2021 01:31:17.658,Watts,600.500000,Volts,-1.000000,Amps,-1.000000,PF,-1.000000,"
        b"Watts,300.000000,Volts,206.370000,Amps,1.500000,PF,0.970000,Watts,300.500000,Volts,206.100000,Amps,1.510000,PF,0.960000\r\n"
        b"Time,03-19-2021 01:31:18.669,Watts,-2.000000,Volts,-1.000000,Amps,-1.000000,PF,-1.000000,"
        b"Watts,-2.000000,Volts,-2.000000,Amps,-2.000000,PF,-2.000000,Watts,-1.000000,Volts,206.000000,Amps,-1.000000,PF,-1.000000\n"
    )
    trace = decode_sample_lines(body, source="ptd://x")
    assert trace.time_ns.tolist() == [
        parse_ptd_time("03-19-2021 01:31:17.658"),
        parse_ptd_time("03-19-2021 01:31:18.669"),
    ]
    assert trace.flags.tolist() == [SAMPLE_OK, SAMPLE_MISSED] and trace.channel_count == 2
    assert trace.watts[0] == 600.5 and np.isnan(trace.watts[1]) and np.isnan(trace.volts).all()
    assert trace.channels[0].flags.tolist() == [SAMPLE_OK, SAMPLE_MISSED]
    assert trace.channels[1].flags.tolist() == [SAMPLE_OK, SAMPLE_ERROR]
    assert trace.channels[1].volts.tolist() == [206.1, 206.0] and np.isnan(trace.channels[1].amps[1])
    assert len(decode_sample_lines(b"")) == 0


def test_a_bad_rl_body_names_the_line() -> None:
    good = b"Time,03-03-2021 00:54:06.184,Watts,4.450000,Volts,249.210000,Amps,0.040400,PF,0.442300\r\n"
    with pytest.raises(ValueError, match="sample line 2 does not match"):
        decode_sample_lines(good + b"Time,03-03-2021 00:54:07.184,Watts,4.4\r\n")
    with pytest.raises(ValueError, match=r"not a MM-DD-YYYY HH:MM:SS\.mmm timestamp: '2021-03-03 00:54:07'"):
        decode_sample_lines(good + good.replace(b"03-03-2021 00:54:06.184", b"2021-03-03 00:54:07"))
    with pytest.raises(ValueError, match="sample line 1 is not a PTD sample line"):
        decode_sample_lines(b"Ranges,0,0.5,0,300\r\n")
