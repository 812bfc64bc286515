"""`RaplAnalyzer` (`--driver rapl [--device package-0,dram]`): CPU and DRAM energy from powercap sysfs."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from analyzers.base import CAP_ENERGY, CAP_WATTS, Identity
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.polling import PollClock, PolledAnalyzer, Reading
from analyzers.rapl.counter import WrappingCounter, read_range_uj, read_uj
from analyzers.rapl.environment import why_no_rapl
from analyzers.rapl.zones import Zone, default_selection, discover, select
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK

ENV_ROOT = "JOULEBENCH_POWERCAP_ROOT"
DEFAULT_ROOT = "/sys/class/powercap"
MIN_INTERVAL_S = 0.001


class RaplAnalyzer(PolledAnalyzer):
    """One channel per chosen RAPL zone; a sample's watts are the counter delta over the read interval.

    `device` lists zones by channel name (`package-0`, `package-0:dram`, `psys`) or bare name (`dram`:
    every DRAM zone); empty chooses every package and its DRAM. Choices that contain one another
    (psys and a package, a package and its core) are refused, so the total never counts twice.
    `sysfs_root` defaults to `$JOULEBENCH_POWERCAP_ROOT`, else /sys/class/powercap; `system_root`
    is where container and VM hints are looked for.
    """

    name = "rapl"
    has_energy = True

    def __init__(
        self,
        device: str = "",
        *,
        sysfs_root: str | Path | None = None,
        system_root: str | Path = "/",
        clock: PollClock | None = None,
    ) -> None:
        super().__init__(device.strip() or "rapl", clock)
        self.root = Path(sysfs_root or os.environ.get(ENV_ROOT) or DEFAULT_ROOT)
        zones = discover(self.root)
        if not zones:
            raise AnalyzerConnectionError(
                self.device, f"no RAPL zones under {self.root}", why_no_rapl(Path(system_root))
            )
        wanted = [part.strip() for part in device.split(",") if part.strip()]
        self.zones: list[Zone] = select(zones, wanted, self.device) if wanted else default_selection(zones)
        self._ranges = [read_range_uj(zone.path / "max_energy_range_uj") for zone in self.zones]
        # Read each counter once now: a permission problem is reported at once, not as -1 samples.
        for zone in self.zones:
            read_uj(zone.path / "energy_uj", self.device)
        self._counters: list[WrappingCounter] = []
        self._last_ns: list[int] = []

    @property
    def channel_names(self) -> list[str]:
        return [zone.channel for zone in self.zones]

    def identify(self) -> Identity:
        return Identity(
            model=f"RAPL {'+'.join(self.channel_names)}",
            serial=str(self.root),
            vendor="powercap",
            capabilities=frozenset({CAP_WATTS, CAP_ENERGY}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return len(self.zones)

    def _begin(self, interval_s: float) -> None:
        self._counters, self._last_ns = [], []
        for zone, range_uj in zip(self.zones, self._ranges, strict=True):
            self._counters.append(WrappingCounter(range_uj, read_uj(zone.path / "energy_uj", self.device)))
            self._last_ns.append(self.clock.now_ns())

    def _read(self, timeout_s: float) -> Reading:
        watts = np.full(len(self.zones), math.nan)
        flags = np.full(len(self.zones), SAMPLE_OK, dtype=np.int8)
        energy = np.full(len(self.zones), math.nan)
        for index, (zone, counter) in enumerate(zip(self.zones, self._counters, strict=True)):
            try:
                now_uj = read_uj(zone.path / "energy_uj", self.device)
            except AnalyzerError as error:
                self._report(error)
                flags[index] = SAMPLE_ERROR
                continue
            now_ns = self.clock.now_ns()
            joules = counter.advance(now_uj)
            dt_s = (now_ns - self._last_ns[index]) / 1e9
            self._last_ns[index] = now_ns
            if joules is None:
                self._report(
                    AnalyzerError(
                        self.device,
                        f"{zone.channel}: the counter went back and max_energy_range_uj is unreadable",
                        "the sample is flagged rather than guessed",
                    )
                )
                flags[index] = SAMPLE_ERROR
                continue
            watts[index] = joules / dt_s if dt_s > 0 else math.nan
            energy[index] = counter.energy_j
        return Reading(watts, flags, energy, time_ns=self.clock.now_ns())
