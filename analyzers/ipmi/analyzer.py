"""`IpmiAnalyzer` (`--driver ipmi [--device local | [user@]host[:port],...]`): DCMI power readings."""

from __future__ import annotations

import math
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from analyzers.base import CAP_WATTS, Identity
from analyzers.errors import AnalyzerError
from analyzers.ipmi import command
from analyzers.ipmi.reading import DcmiParseError, DcmiReading, parse_power_reading
from analyzers.polling import PollClock, PolledAnalyzer, Reading
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK

MIN_INTERVAL_S = 0.5
_TIMEOUT_SHARE = 0.8


class IpmiAnalyzer(PolledAnalyzer):
    """One channel per BMC; a sample is the BMC's instantaneous DCMI power reading (whole watts).

    A reading of 0 W, or one with power reading deactivated, is an error sample (-1): BMCs without a
    power sensor report 0 rather than failing. An ipmitool that overruns 80 % of the interval (or
    `timeout_s`) gives a missed sample (-2). BMCs are read concurrently, each by its own ipmitool.
    """

    name = "ipmi"

    def __init__(
        self,
        device: str = "",
        *,
        ipmitool: str = "ipmitool",
        timeout_s: float = 5.0,
        clock: PollClock | None = None,
    ) -> None:
        super().__init__(device.strip() or command.LOCAL, clock)
        self.bmcs = command.parse_bmcs(device)
        found = shutil.which(ipmitool)
        if found is None:
            raise AnalyzerError(
                self.device, f"{ipmitool} is not installed or not on PATH", "apt install ipmitool"
            )
        self.ipmitool = found
        self.timeout_s = timeout_s
        self._environment = command.child_environment()
        self._pool = ThreadPoolExecutor(max_workers=min(len(self.bmcs), 64), thread_name_prefix="ipmitool")
        # One reading now, so a wrong address, module or password is a sentence before anything starts.
        for reading, problem in self._read_all(timeout_s):
            if reading is None and problem is not None:
                self._pool.shutdown()
                raise problem

    def identify(self) -> Identity:
        return Identity(
            # No commas: PTD's Identify reply is comma-separated.
            model=f"IPMI DCMI {'+'.join(b.label for b in self.bmcs)}",
            vendor="IPMI",
            capabilities=frozenset({CAP_WATTS}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return len(self.bmcs)

    def _one(self, bmc: command.Bmc, timeout_s: float) -> tuple[DcmiReading | None, AnalyzerError | None]:
        try:
            output = command.run(self.ipmitool, bmc, self._environment, timeout_s)
            return parse_power_reading(output), None
        except command.TimedOut:
            return None, None
        except DcmiParseError as error:
            return None, AnalyzerError(bmc.label, str(error), "does this BMC support DCMI power readings?")
        except AnalyzerError as error:
            return None, error

    def _read_all(self, timeout_s: float) -> list[tuple[DcmiReading | None, AnalyzerError | None]]:
        return list(self._pool.map(lambda bmc: self._one(bmc, timeout_s), self.bmcs))

    def _read(self, timeout_s: float) -> Reading:
        taken_ns = self.clock.now_ns()
        results = self._read_all(min(self.timeout_s, _TIMEOUT_SHARE * timeout_s))
        watts = np.full(len(results), math.nan)
        flags = np.full(len(results), SAMPLE_OK, dtype=np.int8)
        for index, (bmc, (reading, problem)) in enumerate(zip(self.bmcs, results, strict=True)):
            if reading is None:
                flags[index] = SAMPLE_MISSED if problem is None else SAMPLE_ERROR
                if problem is not None:
                    self._report(problem)
            elif not reading.active or reading.instantaneous_w == 0:
                flags[index] = SAMPLE_ERROR
                why = "power reading is deactivated" if not reading.active else "it reports 0 W"
                self._report(
                    AnalyzerError(
                        bmc.label, f"{why}; sample flagged", "this BMC may not measure power (DCMI)"
                    )
                )
            else:
                watts[index] = float(reading.instantaneous_w)
        return Reading(watts, flags, time_ns=taken_ns)

    def _release(self) -> None:
        self._pool.shutdown(wait=True)
