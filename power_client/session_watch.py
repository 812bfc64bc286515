"""While a workload runs: is the session still alive on the director, and what do the meters read?

Polled from the workload's tick (every 0.25 s), at most once a second each. A session the director
failed (an analyzer died, stalled, its daemon exited) raises `SessionFailed` with the director's
sentence, which ends the workload — unless the user asked to let it finish
(`--on-analyzer-failure=finish`), in which case the failure is kept and raised when it ends. The
reading shown is the sum of the analyzers' last watts, unless one of them has delivered nothing
for longer than the director's stall limit: then the line says so instead of repeating an old value.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from analyzers.formats.units import NS_PER_S
from power_client.clock import Clock
from power_client.errors import ClientError, SessionFailed
from power_client.session_client import DirectorClient

OnAnalyzerFailure = Literal["stop", "finish"]
CHECK_EVERY_S = 1.0
log = logging.getLogger("power_client")


class SessionWatch:
    def __init__(
        self,
        director: DirectorClient,
        session_id: str,
        clock: Clock,
        stall_s: float,
        offset_s: float = 0.0,
        on_failure: OnAnalyzerFailure = "stop",
    ) -> None:
        self._director = director
        self._session_id = session_id
        self._clock = clock
        self._stall_s = stall_s
        self._offset_ns = round(offset_s * NS_PER_S)  # director − client: readings carry its clock
        self._on_failure = on_failure
        self._checked_at = float("-inf")
        self.mode = ""
        self.failure: SessionFailed | None = None

    def check(self) -> None:
        """Once a second: raise SessionFailed when the director has failed the session."""
        now = time.monotonic()
        if self.failure is not None or now - self._checked_at < CHECK_EVERY_S:
            return
        self._checked_at = now
        try:
            info = self._director.session(self._session_id)
        except ClientError as error:  # a slow or busy director: the heartbeat's timeout decides
            log.warning("Could not read the session's state: %s", error)
            return
        if info.state != "failed":
            return
        self.failure = SessionFailed(
            f"the director failed the session during the {self.mode} run: {info.failure}"
        )
        log.error("%s", self.failure)
        if self._on_failure == "stop":
            raise self.failure

    def raise_if_failed(self) -> None:
        """After the workload: a failure it was allowed to outlive still fails the run."""
        self.check()
        if self.failure is not None:
            raise self.failure

    def reading(self) -> str | None:
        """The analyzers' reading for the progress line."""
        analyzers = self._director.analyzers()
        now_ns = self._clock.wall_ns() + self._offset_ns
        readings = [one for one in analyzers if one.last_watts is not None]
        if not readings:
            return None
        times = [one.last_reading_ns for one in readings if one.last_reading_ns is not None]
        silent_s = (now_ns - min(times)) / NS_PER_S if times else 0.0
        if self._stall_s > 0 and silent_s > self._stall_s:
            return f"no sample for {silent_s:.0f} s"
        return f"{sum(one.last_watts or 0.0 for one in readings):.1f} W"
