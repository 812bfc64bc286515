"""The client's view of time: UTC wall-clock and monotonic nanoseconds, injectable for tests.

Every stamp the client takes (messages, workload window, offset rounds) goes through one `Clock`, so a
test can skew the client's wall clock without touching the machine's clock (which needs root).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from analyzers.formats.units import NS_PER_S


class Clock(Protocol):
    def wall_ns(self) -> int:
        """UTC epoch nanoseconds as this client sees them."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never steps, for durations and for the `[wall, monotonic]` phase pairs."""
        ...


class SystemClock:
    """The machine's own clocks."""

    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


@dataclass(frozen=True)
class SkewedClock:
    """The machine's clock shifted by `skew_s`: a SUT whose clock runs `skew_s` ahead (negative: behind)."""

    skew_s: float

    def wall_ns(self) -> int:
        return time.time_ns() + round(self.skew_s * NS_PER_S)

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()
