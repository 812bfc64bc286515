"""The reference director's full ranging + testing sequence against our daemon, over loopback TCP.

Both eras of PTD_AND_MLPERF_POWER.md §3: the 2021-22 one replayed from the public fixtures'
`server.json` `ptd_messages` (every reply must equal PTDaemon's, Identify and RR aside), and the
current one (1.1 × max amps, RL/Watts/Uncertainty). A virtual clock drives the simulated meter, so
a 60 s measurement takes no wall time and every sample is known exactly.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from test_ptd_daemon_support import PtdClient, RunningDaemon, running_daemon

from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.ptd.wire import parse_identify_reply

FIXTURES = Path("/work/shared/fixtures/inference")
if not FIXTURES.exists():
    FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "inference"
GO_REPLY = "Starting untimed measurement, maximum 500000 samples at 1000ms with 0 rampup samples"
SESSION = "2026-01-02_03-04-05_conformance"
SUMMARY = re.compile(
    r"^Avg watts \d+\.\d{6}, min watts \d+\.\d{6}, max watts \d+\.\d{6}, samples (\d+), errors (\d+), valid (\d+)$"
)
SAMPLE_LINE = re.compile(
    r"^Time,\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3}(,Watts,-?\d+\.\d{6},Volts,-?\d+\.\d{6},Amps,-?\d+\.\d{6},PF,-?\d+\.\d{6})+$"
)
# The reference director's own reader of the PTD data log (power-dev lib/server.py, RE_PTD_LOG).
RE_PTD_LOG = re.compile(
    r"^Time,[^,]*,Watts,[^,]*,Volts,(?P<v>[^,]*),Amps,(?P<a>[^,]*),PF,[^,]*,Mark,(?P<mark>[^,]*)"
)


def director_maxima(data_log: Path, mark: str, start_channel: int, channel_count: int) -> tuple[str, str]:
    """Max volts and amps of the marked samples, as the reference director reads the data log."""
    max_volts = max_amps = Decimal("-1")
    for line in data_log.read_text().splitlines():
        m = RE_PTD_LOG.match(line)
        if not m or m["mark"] != mark:
            continue
        max_volts, max_amps = max(max_volts, Decimal(m["v"])), max(max_amps, Decimal(m["a"]))
        fields = line.split(",")[12:]
        labels = [f"Ch{c}" for c in range(start_channel, start_channel + channel_count)]
        while fields and channel_count:
            assert fields[0] == labels.pop(0), f"channel label {fields[0]} in {line}"
            max_volts = max(max_volts, Decimal(fields[4]))
            max_amps = max(max_amps, Decimal(fields[6]))
            fields = fields[9:]
        assert not labels if channel_count else True
    return str(max_volts), str(max_amps)


def read_all_samples(client: PtdClient, multi: bool) -> list[str]:
    """The current reference's `grab_power_data`: `RL,*,*`, falling back to `RL`."""
    lines = client.request("RL,*,*")
    if "Invalid number of parameters" in lines[0]:
        assert not multi
        lines = client.request("RL")
    count = int(lines[0].split(" ")[1])
    assert lines[0] == f"Last {count} samples"
    return lines[1:]


def run_measurement(daemon: RunningDaemon, seconds: float) -> None:
    assert daemon.clock is not None
    daemon.clock.advance(seconds)


@pytest.mark.parametrize("channels", [1, 3])
def test_current_reference_sequence(tmp_path: Path, channels: int) -> None:
    multi = channels > 1
    with running_daemon(tmp_path, channels=channels) as daemon:
        client = PtdClient(daemon.port)
        assert client.cmd("Hello") == "Hello, PTDaemon here!"
        identity = parse_identify_reply(client.cmd("Identify"))
        assert identity.model == "SimulatedWT310"
        assert identity.channels == channels
        assert not identity.version.startswith("1.")  # ours, never SPEC's 1.9/1.10/1.11
        initial = client.cmd("RR")
        assert initial == "Ranges,1,20.000000,1,600.000000"
        assert client.cmd("SR,V,Auto") == "Range V changed"
        assert client.cmd("SR,A,Auto") == "Range A changed"
        assert client.cmd("SR,A,Auto") == "Range A changed"  # AUTO mode sends it twice
        run_measurement(daemon, 10)
        assert client.cmd(f"Go,1000,0,{SESSION}_ranging") == GO_REPLY
        run_measurement(daemon, 60.2)
        assert client.cmd("Stop") == "Stopping untimed measurement"
        ranging = read_all_samples(client, multi)
        assert len(ranging) == 60
        assert all(SAMPLE_LINE.match(line) for line in ranging)
        assert all(line.count("Watts") == (channels + 1 if multi else 1) for line in ranging)
        assert re.fullmatch(r"Uncertainty,0\.\d{6},0\.\d{6},0\.\d{6},60,0,60,0", client.cmd("Uncertainty"))
        assert re.fullmatch(r"Watts,\d+\.\d{6},\d+\.\d{6},\d+\.\d{6},60,0,60", client.cmd("Watts"))

        max_volts, max_amps = director_maxima(
            daemon.data_log, f"{SESSION}_ranging", 1 if multi else 0, channels if multi else 0
        )
        assert float(max_volts) > 200 and float(max_amps) > 0
        assert client.cmd(f"SR,V,{max_volts}") == "Range V changed"
        assert client.cmd(f"SR,A,{float(max_amps) * 1.1}") == "Range A changed"
        run_measurement(daemon, 10)
        assert client.cmd(f"Go,1000,0,{SESSION}_testing") == GO_REPLY
        run_measurement(daemon, 65.5)
        watts_before = client.cmd("Watts")
        assert client.cmd("Uncertainty").startswith("Uncertainty,")
        assert client.cmd("Stop") == "Stopping untimed measurement"
        testing = read_all_samples(client, multi)
        assert len(testing) == 65
        # total, invalid (above 1 %), valid, unknown: fixed ranges may push some samples above the limit.
        total, invalid, valid, unknown = client.cmd("Uncertainty").split(",")[4:]
        assert (int(total), int(invalid) + int(valid), unknown) == (65, 65, "0")
        assert client.cmd("Watts") == watts_before  # nothing measured between them
        assert client.cmd("SR,V,Auto") == "Range V changed"
        assert client.cmd("SR,A,Auto") == "Range A changed"
        # Ranges restored: autorange on again (the range itself is whatever autorange picked).
        assert client.cmd("RR").split(",")[1::2] == initial.split(",")[1::2] == ["1", "1"]

        # Energy from the RL samples equals the simulator's exact ground truth within the printed decimals.
        trace = decode_sample_lines("\n".join(testing).encode())
        interval_s = 1.0
        energy_j = float(np.sum(trace.watts) * interval_s)
        truth = daemon.analyzer.ground_truth()
        begin_ns = int(trace.time_ns[0]) - 1_000_000_000
        truth_j = truth.energy_j(begin_ns, int(trace.time_ns[-1]))
        assert energy_j == pytest.approx(truth_j, abs=len(trace) * 0.5e-6 * interval_s + 1e-9)
        if multi:
            channel_sum = sum(float(np.sum(block.watts)) for block in trace.channels)
            assert channel_sum == pytest.approx(energy_j, abs=channels * len(trace) * 1e-6)
        client.close()
        messages = daemon.console.wait_for("Waiting for a connection...", count=1)

    # The meter traffic (a line per read from the meter) runs between the protocol's lines.
    traffic = [m for m in messages if m.startswith("Read ") and " from SimulatedWT310: Watts," in m]
    assert sum(int(m.split()[1]) for m in traffic) >= 60 + 65  # every sample of both runs was read
    messages = [m for m in messages if m not in traffic]

    replies = [m.removeprefix("Response to client sent: ") for m in messages if m.startswith("Response to")]
    assert replies == [reply for _, reply in client.exchanges]
    activated = messages.index("Uncertainty checking for SimulatedWT310 is activated")
    go_ranging = messages.index(f"Go with mark '{SESSION}_ranging'")
    assert activated < go_ranging
    assert messages[go_ranging + 1] == f"Response to client sent: {GO_REPLY}"
    completed = [i for i, m in enumerate(messages) if m == "Completed test"]
    assert len(completed) == 2
    for index, samples in zip(completed, (60, 65), strict=True):
        assert messages[index - 1] == "Response to client sent: Stopping untimed measurement"
        summary = SUMMARY.match(messages[index + 1])
        assert summary is not None and summary.groups() == (str(samples), "0", str(samples))
    assert "Volt range set to Auto" in messages and "Ampere range set to Auto" in messages
    assert f"Volt range set to {float(max_volts):.6f}V" in messages
    assert f"Amp range set to {float(max_amps) * 1.1:.6f}A" in messages
    assert messages[-4:] == [
        "No data returned by socket read.",
        "Shutting connection down...",
        "Connection is down.",
        "Waiting for a connection...",
    ]

    data_lines = daemon.data_log.read_text().splitlines()
    marked = [line for line in data_lines if f",Mark,{SESSION}_testing" in line]
    assert len(marked) == 65
    assert all(
        ",Mark,notset" in line or ",Mark," + SESSION in line or ",NOTICE," in line for line in data_lines
    )
    if multi:
        assert all(",Ch1,Watts," in line and ",Ch3,Watts," in line for line in marked)


def fixture_messages(name: str) -> tuple[list[dict[str, str]], str]:
    server = json.loads((FIXTURES / name / "power" / "server.json").read_text())
    return server["ptd_messages"], server["session_name"]


def initial_range(reply: str, index: int) -> str:
    """The reference director's `_get_initial_range`: a fixed range, or Auto."""
    fields = reply.split(",")
    return fields[index + 1] if fields[index] == "0" and float(fields[index + 1]) > 0 else "Auto"


@pytest.mark.parametrize(
    ("fixture", "channels", "first_channel"),
    [
        ("v2.0-nvidia-orin-resnet50-singlestream", 1, 2),
        ("v1.0-krai-rpi4-resnet50-singlestream", 1, 1),
        ("v1.0-nvidia-a100x8-resnet50-offline-3ch", 3, 1),
    ],
)
def test_2021_22_sequence_replayed_from_fixture(
    tmp_path: Path, fixture: str, channels: int, first_channel: int
) -> None:
    """The fixture's commands in order; SR values are what that director computes from our samples
    (max volts, exactly max amps, then the ranges RR reported), the replies must be PTDaemon's."""
    messages, session_name = fixture_messages(fixture)
    multi = channels > 1
    set_ranges = 0
    with running_daemon(tmp_path, channels=channels, first_channel=first_channel) as daemon:
        with PtdClient(daemon.port) as client:
            initial = ""
            for message in messages:
                command, expected = message["cmd"], message["reply"]
                if command.startswith("SR,"):
                    quantity = command.split(",")[1]
                    if set_ranges in (2, 3):  # testing ranges from the ranging samples
                        volts, amps = director_maxima(
                            daemon.data_log,
                            f"{session_name}_ranging",
                            first_channel if multi else 0,
                            channels if multi else 0,
                        )
                        command = f"SR,{quantity},{volts if quantity == 'V' else amps}"
                    elif set_ranges in (4, 5):  # restore what RR reported at the start
                        command = f"SR,{quantity},{initial_range(initial, 3 if quantity == 'V' else 1)}"
                    set_ranges += 1
                if command.startswith("Go,"):
                    run_measurement(daemon, 10)
                reply = client.cmd(command)
                if command == "Identify":
                    assert parse_identify_reply(reply).channels == channels
                elif command == "RR":
                    initial = reply
                    assert reply.startswith("Ranges,")
                else:
                    assert reply == expected, command
                if command.startswith("Go,"):
                    run_measurement(daemon, 30.5)
        assert set_ranges == 6
        messages_logged = daemon.console.messages()
        data_lines = daemon.data_log.read_text().splitlines()
    for mode in ("ranging", "testing"):
        assert f"Go with mark '{session_name}_{mode}'" in messages_logged
        lines = [line for line in data_lines if f",Mark,{session_name}_{mode}" in line]
        assert len(lines) == 30
        if multi:
            assert all(f",Ch{first_channel + 2},Watts," in line for line in lines)
    # The second Stop of that era: the reply is logged after the summary of the first.
    stop_error = messages_logged.index("Response to client sent: Error: no measurement to stop")
    assert messages_logged[stop_error - 2] == "Completed test"
    summary = SUMMARY.match(messages_logged[stop_error - 1])
    assert summary is not None and summary.groups() == ("30", "0", "30")
