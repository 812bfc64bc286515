"""Virtual time for `PolledAnalyzer`: the polling thread takes a sample only when the test moves time.

`advance(seconds)` moves now forward and returns once the poller has taken every sample that became
due and waits for the next one, so a test sees exact, repeatable samples from the real thread.
"""

from __future__ import annotations

import threading
import time

START_NS = 1_700_000_000_000_000_000


class ManualPollClock:
    def __init__(self, start_ns: int = START_NS) -> None:
        self._now_ns = start_ns
        self._waiting_for: int | None = None
        self._condition = threading.Condition()

    def now_ns(self) -> int:
        with self._condition:
            return self._now_ns

    def wait_until(self, deadline_ns: int, stop: threading.Event) -> bool:
        with self._condition:
            self._waiting_for = deadline_ns
            self._condition.notify_all()
            while self._now_ns < deadline_ns and not stop.is_set():
                self._condition.wait(0.005)
            self._waiting_for = None
            return stop.is_set()

    def advance(self, seconds: float, settle_s: float = 5.0) -> int:
        """Move forward; wait (up to `settle_s`) until the poller caught up with the new now."""
        with self._condition:
            self._now_ns += round(seconds * 1e9)
            self._condition.notify_all()
            deadline = time.monotonic() + settle_s
            while not (self._waiting_for is not None and self._waiting_for > self._now_ns):
                if time.monotonic() > deadline:
                    raise TimeoutError("the poller did not catch up with the virtual clock")
                self._condition.wait(0.005)
            return self._now_ns

    def step_without_poller(self, seconds: float) -> int:
        """Move forward when no measurement runs (nothing to wait for)."""
        with self._condition:
            self._now_ns += round(seconds * 1e9)
            return self._now_ns
