"""Clock offset to the director (four-timestamp rounds) and the optional NTP check, over loopback."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from test_client_support import FakeDirector, fake_director

from power_client.cli import main
from power_client.clock import SkewedClock
from power_client.clock_offset import InconsistentRounds, TimeRound, combine, estimate_offset, measure_offset
from power_client.errors import EXIT_CLOCK, EXIT_OK, ClockOutOfBounds
from power_client.ntp_check import check_ntp
from power_client.session_client import DirectorClient

MS = 1_000_000


def test_one_round_gives_the_middle_of_its_bounds() -> None:
    # Director 5 ms ahead; 3 ms out, 1 ms in the handler, 1 ms back.
    one = TimeRound(sent_ns=100 * MS, received_ns=108 * MS, transmitted_ns=109 * MS, returned_ns=105 * MS)
    assert (one.lower_ns, one.upper_ns, one.delay_ns) == (4 * MS, 8 * MS, 4 * MS)
    estimate = estimate_offset([one])
    assert estimate.offset_ns == 6 * MS
    assert estimate.uncertainty_ns == 2 * MS
    assert (estimate.rounds, estimate.rounds_used) == (1, 1)


def test_rounds_intersect_and_slow_rounds_are_left_out() -> None:
    rounds = [
        TimeRound(0, 5 * MS + 2 * MS, 5 * MS + 2 * MS, 3 * MS),  # out 2 ms, back 1 ms: [4, 7] ms
        TimeRound(
            10 * MS, 15 * MS + 10 * MS + MS // 2, 25 * MS + MS // 2, 21 * MS
        ),  # [4.5, 15.5]: slow, dropped
        TimeRound(30 * MS, 35 * MS + MS, 36 * MS, 34 * MS),  # out 1 ms, back 3 ms: [2, 6] ms
    ]
    estimate = estimate_offset(rounds)
    # Intersection of [4, 7] and [2, 6] = [4, 6]: the true 5 ms, known to ±1 ms.
    assert estimate.offset_ns == 5 * MS
    assert estimate.uncertainty_ns == 1 * MS
    assert (estimate.rounds, estimate.rounds_used) == (3, 2)
    assert estimate.min_delay_ns == 3 * MS


def test_disjoint_bounds_fall_back_to_the_fastest_round() -> None:
    # The director's clock stepped by +50 ms between the rounds: the bounds no longer overlap.
    rounds = [TimeRound(0, 6 * MS, 6 * MS, 2 * MS), TimeRound(10 * MS, 66 * MS, 66 * MS, 13 * MS)]
    estimate = estimate_offset(rounds)
    assert (estimate.offset_ns, estimate.uncertainty_ns, estimate.rounds_used) == (5 * MS, 1 * MS, 1)


def test_backwards_round_and_no_round_are_refused() -> None:
    with pytest.raises(InconsistentRounds, match="went backwards"):
        estimate_offset([TimeRound(10 * MS, 0, 0, 5 * MS)])
    with pytest.raises(InconsistentRounds, match="no time rounds"):
        estimate_offset([])


def test_combine_widens_by_the_drift_between_measurements() -> None:
    before = estimate_offset([TimeRound(0, 6 * MS, 6 * MS, 2 * MS)])  # 5 ± 1 ms
    after = estimate_offset([TimeRound(0, 8 * MS, 8 * MS, 2 * MS)])  # 7 ± 1 ms
    both = combine([before, after])
    assert (both.offset_ns, both.uncertainty_ns, both.rounds) == (6 * MS, 2 * MS, 2)


def test_skewed_client_with_random_delays_is_recovered_within_1_ms() -> None:
    # The client's clock runs 2.345 s ahead, so director − client = −2.345 s exactly (same machine).
    skew_s = 2.345
    with (
        fake_director(FakeDirector(delay_max_s=0.004)) as (_state, url),
        DirectorClient(url, None, SkewedClock(skew_s)) as director,
    ):
        estimate = measure_offset(director.time_round, rounds=48)
    error_s = estimate.offset_s - (-skew_s)
    assert abs(error_s) < 0.001, f"offset {estimate.offset_s:.6f} s, error {error_s * 1e3:.3f} ms"
    # The bound is a hard one: the truth lies inside it.
    assert abs(error_s) <= estimate.uncertainty_s
    assert estimate.rounds == 48


def _printed_offset_ms(text: str) -> tuple[float, float]:
    printed = re.match(r"director − client: ([-+][\d.]+) ms ± ([\d.]+) ms", text)
    assert printed is not None, text
    return float(printed.group(1)), float(printed.group(2))


def test_offset_command_reports_and_fails_outside_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    # The command uses the system's wall clock and the fake director the same one, so the true offset
    # is exactly minus the injected skew; the printed bound must contain it.
    with fake_director() as (_state, url):
        assert main(["offset", "--director", url, "--rounds", "8"], clock=SkewedClock(0.010)) == EXIT_OK
        offset_ms, uncertainty_ms = _printed_offset_ms(capsys.readouterr().out)
        assert abs(offset_ms - -10.0) <= uncertainty_ms
        status = main(["offset", "--director", url, "--rounds", "8", "--simulate-clock-skew", "2.345"])
    assert status == EXIT_CLOCK
    captured = capsys.readouterr()
    offset_ms, uncertainty_ms = _printed_offset_ms(captured.out)
    assert abs(offset_ms - -2345.0) <= uncertainty_ms
    assert captured.err == "power-client: the offset is outside ±200 ms or its uncertainty above 50 ms\n"


# --- NTP: a tiny SNTP responder on loopback ---------------------------------------------------------

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 to 1970


def _ntp_timestamp(seconds: float) -> int:
    return int((seconds + NTP_EPOCH_OFFSET) * 2**32)


@contextmanager
def sntp_responder(offset_s: float) -> Iterator[int]:
    """Answers SNTP queries with this machine's time plus `offset_s`; yields its UDP port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                request, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            received = _ntp_timestamp(time.time() + offset_s)
            originate = request[40:48]  # the client's transmit time, echoed
            header = struct.pack("!BBbb11I", (0 << 6) | (3 << 3) | 4, 2, 4, -20, *([0] * 11))
            reply = bytearray(header)
            reply[24:32] = originate
            reply[32:40] = struct.pack("!Q", received)
            reply[40:48] = struct.pack("!Q", _ntp_timestamp(time.time() + offset_s))
            sock.sendto(bytes(reply), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


def test_ntp_check_reads_the_offset_and_enforces_the_limit() -> None:
    with sntp_responder(offset_s=0.25) as port:
        reading = check_ntp("127.0.0.1", max_offset_s=0.4, port=port)
        assert reading.offset_s == pytest.approx(0.25, abs=0.005)
        with pytest.raises(ClockOutOfBounds) as raised:
            check_ntp("127.0.0.1", max_offset_s=0.1, port=port)
    found = re.fullmatch(
        r"this machine's clock is (-[\d.]+) ms off NTP server 127\.0\.0\.1:(\d+) \(limit ±100 ms\); "
        r"fix the time service, joulebench never sets clocks",
        str(raised.value),
    )
    assert found is not None, str(raised.value)
    assert float(found.group(1)) == pytest.approx(-250.0, abs=5.0)
    assert int(found.group(2)) == port


def test_ntp_server_that_does_not_answer_is_a_clock_failure(capsys: pytest.CaptureFixture[str]) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with fake_director() as (_state, url):
            port = silent.getsockname()[1]
            status = main(
                ["offset", "--director", url, "--ntp-server", f"127.0.0.1:{port}", "--ntp-timeout", "0.2"]
            )
    finally:
        silent.close()
    assert status == EXIT_CLOCK
    assert "cannot check the clock against NTP server 127.0.0.1" in capsys.readouterr().err
