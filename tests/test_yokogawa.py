"""The Yokogawa driver through its real code, against a fake WT310 / WT333 on a pty and on loopback TCP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from fakes.links import Endpoint, PtyEndpoint, TcpEndpoint
from fakes.yokogawa import NO_DATA, OVER_RANGE, FakeWT, reading, update_of

from analyzers.base import AUTO
from analyzers.errors import AnalyzerConnectionError, AnalyzerError, AnalyzerProtocolError
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace
from analyzers.yokogawa import YokogawaAnalyzer
from analyzers.yokogawa.dialects import DIALECTS, dialect_for

TRANSPORTS = {"pty": PtyEndpoint, "tcp": TcpEndpoint}


@contextmanager
def fake_meter(transport: str, model: str = "WT310") -> Iterator[tuple[FakeWT, Endpoint]]:
    fake = FakeWT(model)
    endpoint = TRANSPORTS[transport](fake).start()
    try:
        yield fake, endpoint
    finally:
        endpoint.close()


def measure(meter: YokogawaAnalyzer, seconds: float, interval_s: float = 0.1, mark: str = "run") -> Trace:
    meter.start(interval_s, mark)
    time.sleep(seconds)
    meter.stop()
    return meter.fetch()


def expected_uncertainty(watts: np.ndarray, volts_range: float, amps_range: float) -> np.ndarray:
    return (0.001 * np.abs(watts) + 0.001 * volts_range * amps_range) / np.abs(watts)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_wt310_sets_up_and_reads_one_fresh_update_per_sample(transport: str) -> None:
    with fake_meter(transport) as (fake, endpoint), YokogawaAnalyzer.from_device(endpoint.address) as meter:
        identity = meter.identify()
        assert (identity.model, identity.serial, identity.firmware) == (
            "YokogawaWT310",
            "C2PH13047V",
            "F1.03",
        )
        assert identity.min_interval_s == 0.1 and meter.channel_count == 1
        assert fake.remote and not fake.header
        assert [fake.items[i] for i in range(1, 5)] == [("U", "1"), ("I", "1"), ("P", "1"), ("LAMBDA", "1")]
        trace = measure(meter, 0.75)
        assert fake.rate_s == 0.1
    assert 5 <= len(trace) <= 9
    updates = np.array([update_of(w) for w in trace.watts])
    # Each sample is the next update: none read twice, none skipped.
    assert np.all(np.diff(updates) == 1)
    expected = [reading(int(k), 1) for k in updates]
    assert trace.watts.tolist() == [e["P"] for e in expected]
    assert trace.volts.tolist() == [231.0] * len(trace)
    assert trace.amps.tolist() == [e["I"] for e in expected]
    assert trace.pf.tolist() == [0.9] * len(trace)
    assert np.all(trace.flags == SAMPLE_OK)
    np.testing.assert_allclose(trace.uncertainty, expected_uncertainty(trace.watts, 600.0, 20.0), rtol=1e-12)
    # The meter's 100 ms update timing shows in the timestamps.
    assert np.all(np.abs(np.diff(trace.time_ns) / 1e9 - 0.1) < 0.06)
    assert trace.mark_names == ("run",) and np.all(trace.mark_codes == 0)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_wt333_reads_three_elements_and_sigma(transport: str) -> None:
    with (
        fake_meter(transport, "WT333") as (fake, endpoint),
        YokogawaAnalyzer.from_device(endpoint.address) as meter,
    ):
        assert meter.identify().model == "YokogawaWT330" and meter.channel_count == 3
        assert fake.item_count == 13 and fake.items[13] == ("P", "SIGMA")
        trace = measure(meter, 0.55)
    assert trace.channel_count == 3 and len(trace) >= 3
    updates = np.array([update_of(w, 1) for w in trace.channels[0].watts])
    assert np.all(np.diff(updates) == 1)
    for element, block in enumerate(trace.channels, start=1):
        assert block.watts.tolist() == [reading(int(k), element)["P"] for k in updates]
        assert block.volts.tolist() == [230.0 + element] * len(trace)
    sigma = [float(f"{sum(reading(int(k), e)['P'] for e in (1, 2, 3)):.5E}") for k in updates]
    assert trace.watts.tolist() == sigma
    # The total has no volts/amps/PF (PTD's sum block) and sums the elements' absolute uncertainties.
    assert np.all(np.isnan(trace.volts))
    absolute = sum(0.001 * block.watts + 0.001 * 600 * 20 for block in trace.channels)
    np.testing.assert_allclose(trace.uncertainty, absolute / trace.watts, rtol=1e-12)


@pytest.mark.parametrize(("transport", "model"), [("pty", "WT310"), ("tcp", "WT333")])
def test_sentinels_and_a_garbled_reply_become_flagged_samples(transport: str, model: str) -> None:
    with (
        fake_meter(transport, model) as (fake, endpoint),
        YokogawaAnalyzer.from_device(endpoint.address) as meter,
    ):
        element = 2 if model == "WT333" else 1
        fake.faults.sentinels = {2: {(element, "P"): NO_DATA}, 3: {(element, "U"): OVER_RANGE}}
        fake.faults.garbled = {4}
        trace = measure(meter, 0.85)
        stats = meter.stats()
    assert len(trace) >= 6
    block = trace.channels[element - 1] if model == "WT333" else trace
    assert block.flags[:6].tolist() == [0, SAMPLE_ERROR, SAMPLE_ERROR, SAMPLE_ERROR, 0, 0]
    assert trace.flags[:6].tolist() == [0, SAMPLE_ERROR, SAMPLE_ERROR, SAMPLE_ERROR, 0, 0]
    assert np.isnan(block.watts[1:4]).all() and np.isnan(trace.watts[1:4]).all()
    assert block.volts[1] == 230.0 + element and np.isnan(block.volts[2])  # over-range voltage: no value
    if model == "WT333":
        assert trace.channels[0].flags[:4].tolist() == [0, 0, 0, SAMPLE_ERROR]  # garbled: every element
    # Sampling goes on after the garbled reply, with the update that follows it.
    good = np.flatnonzero(trace.flags == SAMPLE_OK)
    updates = np.array(
        [update_of(w, 1) for w in (trace.channels[0] if model == "WT333" else trace).watts[good]]
    )
    assert updates[1] - updates[0] == 4 and np.all(np.diff(updates[1:]) == 1)
    assert (stats.samples, stats.errors) == (len(trace), 3)
    assert stats.extra["protocol_errors"] == 1.0


def test_a_stalled_meter_leaves_a_missed_sample() -> None:
    with fake_meter("tcp") as (fake, endpoint), YokogawaAnalyzer.from_device(endpoint.address) as meter:
        # Read 3 waits for its update, then the meter is busy 0.22 s: it answers with the values of the
        # update in force then, two updates later, and the two in between are never read.
        fake.faults.stall_s = {3: 0.22}
        trace = measure(meter, 0.9)
    assert trace.flags[:6].tolist() == [0, 0, SAMPLE_MISSED, SAMPLE_MISSED, 0, 0]
    updates = [update_of(w) for w in trace.watts[[0, 1, 4, 5]]]
    assert np.diff(updates).tolist() == [1, 3, 1]  # the missed rows stand for the updates in between
    assert np.all(np.isnan(trace.watts[2:4]))


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_a_disconnect_keeps_the_samples_and_then_says_so(transport: str) -> None:
    with fake_meter(transport) as (fake, endpoint):
        meter = YokogawaAnalyzer.from_device(endpoint.address, timeout_s=0.5)
        fake.faults.disconnect_after = 3
        meter.start(0.1, "run")
        # The contract (Analyzer.fetch): all three samples come out before the failure, whenever read.
        received = 0
        deadline = time.monotonic() + 10
        with pytest.raises(AnalyzerConnectionError) as raised:
            while time.monotonic() < deadline:
                received += len(meter.fetch())
                time.sleep(0.05)
        assert received == 3
        assert str(raised.value).startswith(f"{endpoint.address}: ")
        assert "check the cable" in str(raised.value)
        meter.stop()
        meter.close()
        meter.close()


def test_ranges_fixed_auto_and_over_range() -> None:
    with fake_meter("pty") as (fake, endpoint), YokogawaAnalyzer.from_device(endpoint.address) as meter:
        ranges = meter.get_ranges()
        assert (ranges.volts.value, ranges.volts.auto, ranges.amps.value, ranges.amps.auto) == (
            600,
            False,
            20,
            False,
        )
        meter.set_volts_range(240.0)  # the smallest range holding 240 V
        meter.set_amps_range(0.3)
        assert (fake.elements[1].volts_range, fake.elements[1].amps_range) == (300.0, 0.5)
        fixed = measure(meter, 0.35)
        np.testing.assert_allclose(fixed.uncertainty, expected_uncertainty(fixed.watts, 300, 0.5), rtol=1e-12)
        meter.set_volts_range(AUTO)
        meter.set_amps_range(AUTO)
        assert fake.elements[1].volts_auto and fake.elements[1].amps_auto
        ranges = meter.get_ranges(1)
        assert (ranges.volts.value, ranges.volts.auto, ranges.amps.value, ranges.amps.auto) == (
            300,
            True,
            0.5,
            True,
        )
        meter.set_volts_range(10.0)  # 15 V range: 231 V is over range
        over = measure(meter, 0.35)
        assert len(over) >= 2 and np.all(over.flags == SAMPLE_ERROR) and np.all(np.isnan(over.watts))
        with pytest.raises(AnalyzerError, match="no V range holds 700 V"):
            meter.set_volts_range(700.0)
        with pytest.raises(AnalyzerError, match=r"cannot sample every 0\.3 s.*0\.1, 0\.25, 0\.5, 1, 2, 5 s"):
            meter.start(0.3)


def test_autorange_uncertainty_follows_the_range_of_each_update() -> None:
    with fake_meter("tcp") as (_, endpoint), YokogawaAnalyzer.from_device(endpoint.address) as meter:
        meter.set_volts_range(AUTO)
        meter.set_amps_range(AUTO)
        trace = measure(meter, 0.45)
    # 231 V sits in the 300 V range and ~0.25 A in the 0.5 A range.
    np.testing.assert_allclose(trace.uncertainty, expected_uncertainty(trace.watts, 300, 0.5), rtol=1e-12)


def test_a_wrong_instrument_and_an_unsupported_model_are_one_sentence() -> None:
    fake = FakeWT()
    fake.idn = "HEWLETT-PACKARD,34401A,0,11-5-2"
    endpoint = TcpEndpoint(fake).start()
    try:
        with pytest.raises(AnalyzerProtocolError) as raised:
            YokogawaAnalyzer.from_device(endpoint.address)
        assert str(raised.value) == (
            f"{endpoint.address}: answered *IDN? with 'HEWLETT-PACKARD,34401A,0,11-5-2', not a Yokogawa "
            "power analyzer (check that --device points at the meter and the baud rate matches)"
        )
        fake.idn = "YOKOGAWA,WT3000,X,F1"
        with pytest.raises(AnalyzerProtocolError, match="Yokogawa model WT3000 is not supported"):
            YokogawaAnalyzer.from_device(endpoint.address)
    finally:
        endpoint.close()


def test_transport_failures_name_the_device_and_what_to_check() -> None:
    with pytest.raises(AnalyzerConnectionError) as raised:
        YokogawaAnalyzer.from_device("/dev/ttyDOES_NOT_EXIST")
    assert str(raised.value) == (
        "/dev/ttyDOES_NOT_EXIST: cannot open (No such file or directory) "
        "(no such port: check the port name and that the cable is plugged in)"
    )
    endpoint = TcpEndpoint(FakeWT())
    address = endpoint.address
    endpoint.disconnect()  # nothing listens there any more
    with pytest.raises(AnalyzerConnectionError, match="check the host and port"):
        YokogawaAnalyzer.from_device(address)

    class Silent:
        def attach(self, endpoint: Endpoint) -> None: ...

        def handle(self, line: str) -> None: ...

    quiet = PtyEndpoint(Silent()).start()
    try:
        with pytest.raises(
            AnalyzerConnectionError, match=r"no complete reply within 0\.2 s \(check the cable, the baud"
        ):
            YokogawaAnalyzer.from_device(quiet.address, timeout_s=0.2)
    finally:
        quiet.close()


def test_every_dialect_is_complete_data() -> None:
    for dialect in DIALECTS:
        assert 1.0 in dialect.rates  # PTD's default interval
        assert set(dialect.numeric.functions) == {"volts", "amps", "watts", "pf"}
        for quantity, unit in ((dialect.volts, "V"), (dialect.amps, "A")):
            assert list(quantity.ranges) == sorted(quantity.ranges) and quantity.commands.unit == unit
        assert dialect.accuracy.reading_fraction > 0 and dialect.accuracy.source
    assert dialect_for("WT310E") is not None and dialect_for("WT310E")[1].ptd_model == "YokogawaWT310E"  # type: ignore[index]
    assert dialect_for("WT333E")[1].elements == 3  # type: ignore[index]
    assert dialect_for("WT1806")[1].elements == 6  # type: ignore[index]
    assert dialect_for("760201")[0].family == "WT500"  # type: ignore[index]
    assert dialect_for("WT3000") is None
