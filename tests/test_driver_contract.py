"""The written contract of `Analyzer.fetch` (analyzers/base.py), held for the sampling bases.

1. No sample is lost to a failure: samples buffered when the source failed are returned first, and
   the failure is raised by the first call with nothing left to return.
2. Channels combine into the total with `combine_channel_flags`: missed over error over OK.

The polled base (NVML, RAPL, Redfish, IPMI) is driven through a minimal driver on a manual clock;
the PTD client through a scripted daemon that drops the connection inside an `RL` reply is in
`test_ptd_client_fakes.py`; the LPM01A and Yokogawa drivers through their fakes in their own tests.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from analyzers.base import Identity
from analyzers.errors import AnalyzerError
from analyzers.polling import PolledAnalyzer, Reading
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, combine_channel_flags


def test_missed_outranks_error_outranks_ok() -> None:
    a = np.array([SAMPLE_OK, SAMPLE_OK, SAMPLE_ERROR, SAMPLE_ERROR, SAMPLE_MISSED], dtype=np.int8)
    b = np.array([SAMPLE_OK, SAMPLE_ERROR, SAMPLE_OK, SAMPLE_MISSED, SAMPLE_ERROR], dtype=np.int8)
    assert combine_channel_flags([a, b]).tolist() == [
        SAMPLE_OK,
        SAMPLE_ERROR,
        SAMPLE_ERROR,
        SAMPLE_MISSED,
        SAMPLE_MISSED,
    ]
    assert combine_channel_flags([a]).tolist() == a.tolist()


class _FailsAfter(PolledAnalyzer):
    """Two channels; reads 1..`good` succeed, then the source fails (a dead link)."""

    name = "contract"

    def __init__(self, good: int) -> None:
        super().__init__("contract-device")
        self._good = good
        self._reads = 0
        self.read_past_failure = threading.Event()

    def identify(self) -> Identity:
        return Identity(model="Contract", min_interval_s=0.001)

    @property
    def channel_count(self) -> int:
        return 2

    def _read(self, timeout_s: float) -> Reading:
        self._reads += 1
        if self._reads > self._good:
            self.read_past_failure.set()
            raise AnalyzerError(self.device, "the link is down")
        second = SAMPLE_MISSED if self._reads == 2 else SAMPLE_OK
        watts = np.array([10.0, np.nan if second else 5.0])
        return Reading(watts, np.array([SAMPLE_OK, second], dtype=np.int8))


def test_polled_samples_before_a_failure_come_first_then_the_failure() -> None:
    analyzer = _FailsAfter(good=3)
    analyzer.start(0.01)
    assert analyzer.read_past_failure.wait(5)
    analyzer.stop()
    first = analyzer.fetch()
    assert len(first) >= 4  # three good readings and the failed one (an error sample), none lost
    assert first.flags[:3].tolist() == [SAMPLE_OK, SAMPLE_MISSED, SAMPLE_OK]  # combined per the contract
    assert first.flags[3] == SAMPLE_ERROR and np.isnan(first.watts[3])
    assert first.watts[:1].tolist() == [15.0] and np.isnan(first.watts[1])
    with pytest.raises(AnalyzerError, match="the link is down"):
        analyzer.fetch()
    assert len(analyzer.fetch()) == 0  # the failure is raised once
    analyzer.close()
