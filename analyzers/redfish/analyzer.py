"""`RedfishAnalyzer` (`--driver redfish --device https://bmc1,https://bmc2,...`): BMCs and PDUs as channels."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from analyzers.base import CAP_ENERGY, CAP_WATTS, Identity
from analyzers.errors import AnalyzerError
from analyzers.polling import PollClock, PolledAnalyzer, Reading
from analyzers.redfish.credentials import CredentialStore
from analyzers.redfish.endpoints import parse_endpoints
from analyzers.redfish.service import Channel, RedfishService
from analyzers.trace import SAMPLE_OK

log = logging.getLogger("joulebench.analyzers.redfish")

ENV_VERIFY = "JOULEBENCH_REDFISH_VERIFY"
MIN_INTERVAL_S = 0.1
# Leave part of each interval for the answers to be turned into a sample.
_TIMEOUT_SHARE = 0.8


def verify_from_environment() -> bool | str:
    """`$JOULEBENCH_REDFISH_VERIFY`: 0/false/no turns TLS verification off, a path is a CA bundle."""
    value = os.environ.get(ENV_VERIFY, "").strip()
    if not value or value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    return value


class RedfishAnalyzer(PolledAnalyzer):
    """One channel per power source found at the listed BMCs and PDUs, all polled concurrently.

    A bare service URL is searched for chassis (`EnvironmentMetrics`, else `Power`; chassis inside
    another powered chassis are skipped) and rack PDUs (`Metrics`); a resource URL names one source.
    Each request of a tick has `timeout_s` or 80 % of the interval, whichever is shorter; a channel
    that times out gets a missed sample (-2), one that fails an error sample (-1), and the others
    are unaffected. `energy_j` comes from `EnergykWh` when every channel reports it.
    Credentials: see `analyzers.redfish.credentials`. `verify` (default `$JOULEBENCH_REDFISH_VERIFY`,
    else on) is httpx's TLS verification: True, False or a CA bundle path.
    """

    name = "redfish"

    def __init__(
        self,
        device: str = "",
        *,
        timeout_s: float = 5.0,
        credentials_file: str | Path | None = None,
        verify: bool | str | None = None,
        clock: PollClock | None = None,
    ) -> None:
        super().__init__(device.strip() or "redfish", clock)
        endpoints = parse_endpoints(device)
        store = CredentialStore(credentials_file)
        self.timeout_s = timeout_s
        self._service = RedfishService(verify if verify is not None else verify_from_environment())
        try:
            self.channels: list[Channel] = self._service.discover(endpoints, store, timeout_s)
            first = self._service.poll(self.channels, timeout_s)
        except BaseException:
            self._service.close()
            raise
        # Energy only when every source has a counter, so the total's energy is the whole total.
        self.has_energy = all(o.value is not None and o.value.energy_kwh is not None for o in first)
        self._baseline_kwh: list[float | None] = [None] * len(self.channels)

    @property
    def channel_labels(self) -> list[str]:
        return [channel.label for channel in self.channels]

    def identify(self) -> Identity:
        hosts = sorted({c.url.split("/redfish/", 1)[0] for c in self.channels})
        return Identity(
            model=f"Redfish {len(self.channels)} source(s) at {len(hosts)} service(s)",
            serial=",".join(hosts) if len(hosts) <= 4 else f"{hosts[0]} ... {hosts[-1]}",
            vendor="DMTF Redfish",
            capabilities=frozenset({CAP_WATTS, CAP_ENERGY} if self.has_energy else {CAP_WATTS}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    def _begin(self, interval_s: float) -> None:
        self._baseline_kwh = [None] * len(self.channels)

    def _read(self, timeout_s: float) -> Reading:
        timeout = min(self.timeout_s, _TIMEOUT_SHARE * timeout_s)
        taken_ns = self.clock.now_ns()
        outcomes = self._service.poll(self.channels, timeout)
        watts = np.full(len(outcomes), math.nan)
        flags = np.array([o.flag for o in outcomes], dtype=np.int8)
        energy = np.full(len(outcomes), math.nan)
        for index, (channel, outcome) in enumerate(zip(self.channels, outcomes, strict=True)):
            if outcome.flag != SAMPLE_OK or outcome.value is None:
                self._report(AnalyzerError(channel.label, outcome.problem))
                continue
            watts[index] = outcome.value.watts
            kwh = outcome.value.energy_kwh
            if kwh is not None:
                # Energy since the channel's first good reading of this measurement.
                base = self._baseline_kwh[index]
                if base is None:
                    self._baseline_kwh[index] = base = kwh
                energy[index] = (kwh - base) * 3.6e6
        # The sample stands for the moment the requests went out, the same for every channel.
        return Reading(watts, flags, energy if self.has_energy else None, time_ns=taken_ns)

    def _release(self) -> None:
        self._service.close()
