"""Optional check of the SUT's own clock against an NTP server (read-only: it never sets the clock).

The director's clock is the reference for the measurement; this check answers a different question,
whether the SUT's clock is near true time, as the MLPerf reference client requires before a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import ntplib

from power_client.errors import ClockOutOfBounds


@dataclass(frozen=True)
class NtpReading:
    server: str
    offset_s: float  # NTP server − this machine
    delay_s: float


def read_ntp(server: str, port: int = 123, timeout_s: float = 2.0) -> NtpReading:
    """One SNTP query; ClockOutOfBounds with a sentence when the server does not answer."""
    try:
        stats = ntplib.NTPClient().request(server, version=3, port=port, timeout=timeout_s)
    except (ntplib.NTPException, OSError) as error:  # OSError covers a name that does not resolve
        raise ClockOutOfBounds(
            f"cannot check the clock against NTP server {server}:{port}: {error}"
        ) from None
    return NtpReading(server=f"{server}:{port}", offset_s=float(stats.offset), delay_s=float(stats.delay))


def check_ntp(server: str, max_offset_s: float, port: int = 123, timeout_s: float = 2.0) -> NtpReading:
    """The reading if |offset| is within `max_offset_s`, else ClockOutOfBounds naming both figures."""
    reading = read_ntp(server, port, timeout_s)
    if abs(reading.offset_s) > max_offset_s:
        raise ClockOutOfBounds(
            f"this machine's clock is {-reading.offset_s * 1e3:+.1f} ms off NTP server {reading.server} "
            f"(limit ±{max_offset_s * 1e3:.0f} ms); fix the time service, joulebench never sets clocks"
        )
    return reading
