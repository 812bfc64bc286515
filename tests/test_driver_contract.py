"""The written contract of `Analyzer.fetch` (analyzers/base.py), held for the sampling bases.

1. No sample is lost to a failure: samples buffered when the source failed are returned first, and
   the failure is raised by the first call with nothing left to return.
2. Channels combine into the total with `combine_channel_flags`: missed over error over OK.

Each sampling base is driven through a minimal driver: `PolledAnalyzer` (NVML, RAPL, Redfish, IPMI)
and `StreamedAnalyzer` (Yokogawa, LPM01A with a reading thread; the simulator and the PTD client
producing on demand); the PTD client, through a scripted daemon that drops the connection inside an
`RL` reply, in `test_ptd_client_fakes.py`; the LPM01A over its fake board in `test_lpm01a.py` (a
disconnect mid-stream: every sample, then the failure).
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import numpy as np
import pytest

from analyzers.android import AndroidAnalyzer
from analyzers.base import Identity
from analyzers.errors import AnalyzerError, AnalyzerStateError
from analyzers.ipmi import IpmiAnalyzer
from analyzers.joulescope import JoulescopeAnalyzer
from analyzers.lpm01a import Lpm01aAnalyzer
from analyzers.monsoon import MonsoonAnalyzer
from analyzers.nvml import NvmlAnalyzer
from analyzers.polling import PolledAnalyzer, Reading
from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.rapl import RaplAnalyzer
from analyzers.redfish import RedfishAnalyzer
from analyzers.registry import driver_names
from analyzers.simulated import SimulatedAnalyzer
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace, combine_channel_flags
from analyzers.yokogawa import YokogawaAnalyzer


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


def test_only_the_two_bases_start_sampling_threads() -> None:
    """Every thread under analyzers/ is one of the sampling bases' or one named here with its job."""
    root = Path(__file__).resolve().parents[1] / "analyzers"
    starting = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if "threading.Thread(" in path.read_text(encoding="utf-8")
    )
    not_sampling = {
        "android/analyzer.py",  # drains adb's stderr, so a disconnect is said in adb's own words
        "ptd/client/launch.py",  # copies a launched daemon's console into its log file
        "ptd/daemon/server.py",  # the PTD daemon's listener and its pump (it fetches from a driver, not a meter)
        "redfish/service.py",  # the asyncio loop the HTTP client runs on
    }
    assert [p for p in starting if p not in not_sampling] == ["polling.py", "streaming.py"]
    for driver in (Lpm01aAnalyzer, YokogawaAnalyzer, SimulatedAnalyzer, PtdAnalyzer, AndroidAnalyzer):
        assert issubclass(driver, StreamedAnalyzer)
    assert SimulatedAnalyzer.on_demand and PtdAnalyzer.on_demand  # no thread: they produce when asked
    # The joulescope package's own thread delivers the stream; fetch reduces what it delivered.
    assert issubclass(JoulescopeAnalyzer, StreamedAnalyzer) and JoulescopeAnalyzer.on_demand
    assert not Lpm01aAnalyzer.on_demand and not YokogawaAnalyzer.on_demand and not AndroidAnalyzer.on_demand
    assert issubclass(MonsoonAnalyzer, StreamedAnalyzer) and not MonsoonAnalyzer.on_demand
    for driver in (NvmlAnalyzer, RaplAnalyzer, RedfishAnalyzer, IpmiAnalyzer):
        assert issubclass(driver, PolledAnalyzer)


class _StreamsThenDies(StreamedAnalyzer):
    """Emits three chunks of two samples, then its link dies."""

    name = "contract-stream"

    def identify(self) -> Identity:
        return Identity(model="ContractStream", min_interval_s=0.001)

    @property
    def channel_count(self) -> int:
        return 1

    def set_mark(self, mark: str) -> None:
        pass

    def _stream(self, stop: threading.Event) -> None:
        for k in range(3):
            self._emit(Trace.from_columns(np.array([2 * k, 2 * k + 1], dtype=np.int64) + 1, np.full(2, 5.0)))
        raise AnalyzerError(self.device, "the stream ended: device unplugged")


def test_streamed_samples_before_a_failure_come_first_then_the_failure() -> None:
    analyzer = _StreamsThenDies("stream-device")
    analyzer.start(0.001)
    assert analyzer._thread is not None
    analyzer._thread.join(5)
    assert len(analyzer.fetch()) == 6
    assert analyzer.stats().samples == 6
    with pytest.raises(AnalyzerError, match="device unplugged"):
        analyzer.fetch()
    assert len(analyzer.fetch()) == 0
    analyzer.stop()


class _StreamsThenBreaks(_StreamsThenDies):
    """Its reading loop meets an exception no driver code expected (a library's own error)."""

    def _stream(self, stop: threading.Event) -> None:
        self._emit(Trace.from_columns(np.array([1, 2], dtype=np.int64), np.full(2, 5.0)))
        raise ValueError("Failed to set custom baud rate (3686400): [Errno 5] Input/output error")


def test_an_unexpected_error_in_the_reading_thread_is_a_failure_not_a_silent_stop() -> None:
    analyzer = _StreamsThenBreaks("stream-device")
    analyzer.start(0.001)
    assert analyzer._thread is not None
    analyzer._thread.join(5)
    assert len(analyzer.fetch()) == 2
    with pytest.raises(AnalyzerError) as failed:
        analyzer.fetch()
    assert str(failed.value) == (
        "stream-device: the reading thread failed: ValueError: Failed to set custom baud rate (3686400): "
        "[Errno 5] Input/output error"
    )
    analyzer.stop()


# Where each registered driver is shown to keep the contract through its own fake: buffered samples
# first, the failure with the next call. A new driver fails this test until it names its proof.
CONTRACT_PROOFS = {
    "android": (
        "test_android",
        "test_an_unplugged_device_keeps_the_samples_before_and_then_says_it_went_away",
    ),
    "ipmi": ("test_ipmi", "test_bmcs_over_lan_with_the_password_from_a_file_never_argv"),
    "joulescope": ("test_joulescope", "test_an_unplugged_joulescope_keeps_the_samples_then_says_so"),
    "lpm01a": ("test_lpm01a", "test_a_disconnect_mid_stream_keeps_the_samples_and_then_says_so"),
    "monsoon": ("test_monsoon", "test_an_unplugged_monsoon_keeps_the_samples_then_says_so"),
    "nvml": ("test_nvml", "test_a_lost_gpu_flags_its_channel_and_is_reported"),
    "ptd": (
        "test_ptd_client_fakes",
        "test_a_connection_dropped_mid_rl_keeps_the_complete_lines_and_counts_the_rest",
    ),
    "rapl": ("test_rapl", "test_a_wrap_with_an_unreadable_range_is_flagged_not_guessed"),
    "redfish": ("test_redfish", "test_readings_are_exact_and_a_slow_or_failing_bmc_flags_only_its_channel"),
    "simulated": (
        "test_simulated_meter",
        "test_a_malformed_control_line_is_reported_once_and_loses_no_sample",
    ),
    "yokogawa": ("test_yokogawa", "test_a_disconnect_keeps_the_samples_and_then_says_so"),
}


class _ProducesOnDemand(StreamedAnalyzer):
    """Two samples per collect; the third collect meets a dead source after handing its samples over."""

    name = "contract-on-demand"
    on_demand = True

    def __init__(self) -> None:
        super().__init__("on-demand-device")
        self.collects = 0

    def identify(self) -> Identity:
        return Identity(model="ContractOnDemand", min_interval_s=0.001)

    @property
    def channel_count(self) -> int:
        return 1

    def set_mark(self, mark: str) -> None:
        pass

    def _collect(self) -> None:
        if not self.running or self.collects == 3:  # a dead source has nothing more
            return
        self.collects += 1
        first = 2 * self.collects
        self._emit(Trace.from_columns(np.array([first, first + 1], dtype=np.int64), np.full(2, 7.0)))
        if self.collects == 3:
            self._fail(AnalyzerError(self.device, "the source went away"))


def test_on_demand_sources_start_no_thread_and_keep_the_contract() -> None:
    analyzer = _ProducesOnDemand()
    analyzer.start(0.001)
    assert analyzer._thread is None and analyzer.running
    assert [len(analyzer.fetch()) for _ in range(3)] == [2, 2, 2]  # the third collect's samples too
    with pytest.raises(AnalyzerError, match="went away"):
        analyzer.fetch()  # the fourth collect hands nothing new: only now the failure
    assert analyzer.stats().samples == 6
    analyzer.stop()
    assert not analyzer.running
    with pytest.raises(AnalyzerStateError, match="no measurement to stop"):
        analyzer.stop()


def test_a_failure_not_yet_raised_survives_the_next_start() -> None:
    analyzer = _StreamsThenDies("stream-device")
    analyzer.start(0.001)
    assert analyzer._thread is not None
    analyzer._thread.join(5)
    analyzer.stop()
    analyzer.start(0.001)  # the six samples and the failure of the first measurement were never fetched
    assert analyzer._thread is not None
    analyzer._thread.join(5)
    assert len(analyzer.fetch()) == 12
    with pytest.raises(AnalyzerError, match="device unplugged"):
        analyzer.fetch()
    assert len(analyzer.fetch()) == 0
    analyzer.stop()


def test_every_registered_driver_names_where_it_keeps_the_contract() -> None:
    assert sorted(CONTRACT_PROOFS) == driver_names()
    for module_name, test_name in CONTRACT_PROOFS.values():
        assert callable(getattr(importlib.import_module(module_name), test_name)), (module_name, test_name)
