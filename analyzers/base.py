"""The `Analyzer` interface: what every power source looks like to the director and the daemon.

Synchronous by design: drivers do blocking I/O; the director runs each analyzer in its own thread.
A measurement is `start(interval_s, mark)` … `fetch()` as often as wanted … `stop()`. `fetch()`
returns the samples not yet read, as a `Trace` chunk, exactly once each (also after `stop()`, until
drained). Timestamps are UTC epoch nanoseconds of the moment the sample was taken.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar, Literal

from analyzers.errors import RangesNotApplicable
from analyzers.trace import Trace

AUTO: Literal["auto"] = "auto"
RangeRequest = float | Literal["auto"]

# Capability names an `Identity` may list.
CAP_WATTS = "watts"
CAP_VOLTS = "volts"
CAP_AMPS = "amps"
CAP_PF = "pf"
CAP_ENERGY = "energy"
CAP_RANGES = "ranges"
CAP_UNCERTAINTY = "uncertainty"
AC_ANALYZER_CAPABILITIES = frozenset({CAP_WATTS, CAP_VOLTS, CAP_AMPS, CAP_PF, CAP_RANGES, CAP_UNCERTAINTY})
"""What a bench AC power analyzer of the kind PTD drives reports (the Yokogawa WT series, the simulator)."""


@dataclass(frozen=True)
class Identity:
    """Who the source is. `model` is what PTD's `Identify` reports in field 0."""

    model: str
    serial: str = ""
    firmware: str = ""
    vendor: str = ""
    capabilities: frozenset[str] = frozenset({CAP_WATTS})
    min_interval_s: float = 1.0


@dataclass(frozen=True)
class RangeSetting:
    """One range: `auto` on/off and the range value in V or A (None when unknown)."""

    value: float | None
    auto: bool | None  # None = unknown


@dataclass(frozen=True)
class Ranges:
    volts: RangeSetting
    amps: RangeSetting


@dataclass(frozen=True)
class WattsSummary:
    """One entry of PTD's `Watts` reply, `<avg>,<min>,<max>,<samples>,<errors>,<valid>` (W; NaN where
    PTD printed -1): `samples` counts every sample, `errors` the sentinel ones, `valid` the rest."""

    avg_power_w: float
    min_power_w: float
    max_power_w: float
    samples: int
    errors: int
    valid: int


@dataclass(frozen=True)
class MeasurementStats(WattsSummary):
    """Statistics of the current or last measurement, as PTD's `Watts` and `Uncertainty` report them.

    Uncertainty fields are fractions (0.0063 = 0.63 %); `uncertainty_unknown` counts samples with no
    uncertainty estimate and `uncertainty_invalid` those whose uncertainty is above the source's limit.
    """

    uncertainty_avg: float = float("nan")
    uncertainty_min: float = float("nan")
    uncertainty_max: float = float("nan")
    uncertainty_invalid: int = 0
    uncertainty_valid: int = 0
    uncertainty_unknown: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class Analyzer(ABC):
    """A power source. Subclasses register under the `joulebench.analyzers` entry-point group.

    `create_analyzer` makes one with the class's `from_device(device, **options)` where it has one
    (drivers that take an open transport in `__init__`: it opens the real one), else with
    `cls(device, **options)`."""

    name: ClassVar[str] = ""
    sample_uncertainty: ClassVar[bool] = True
    """Whether, with `CAP_UNCERTAINTY`, each sample carries its own uncertainty. False for a PTD daemon:
    its `RL` lines carry none (it judges each sample on its own console and sums up in `Uncertainty`)."""
    stamps_own_clock: ClassVar[bool] = False
    """True when sample times come from the source's clock, not this machine's (a PTD daemon's
    sample lines): whoever lines them up with local times must measure the shift."""
    counter_update_s: float | None = None
    """How often the source's energy counter moves, where it has one that moves in steps (NVML):
    windows shorter than ten steps are warned about."""

    def __init__(self, device: str = "") -> None:
        self.device = device

    def summary_reply(self, command: str) -> str | None:
        """The source's own PTD summary line for `command` (`Watts`, `Uncertainty`, each also with
        `,*`), word for word, over its current or last measurement; None where the source has none
        and the PTD daemon serving it computes the line from the samples."""
        return None

    # -- identity and layout --------------------------------------------------------------------

    @abstractmethod
    def identify(self) -> Identity: ...

    @property
    @abstractmethod
    def channel_count(self) -> int:
        """Number of channels (elements); 1 for a single-channel meter. Traces of a meter with more
        than one channel carry one `ChannelBlock` per channel and the sum as the total."""

    # -- ranges (only for sources that have them) -----------------------------------------------

    @property
    def supports_ranges(self) -> bool:
        return False

    def get_ranges(self, channel: int | None = None) -> Ranges:
        """Ranges of channel 1..N, or with `channel=None` the setting all channels share (fields a
        channel disagrees on are unknown: `None`). Sources without ranges raise `RangesNotApplicable`."""
        raise RangesNotApplicable(self.device or self.name, "this source has no settable ranges")

    def set_volts_range(self, volts: RangeRequest, channel: int | None = None) -> None:
        """Fix the voltage range to the smallest one holding `volts`, or `AUTO`; `channel=None` = all."""
        raise RangesNotApplicable(self.device or self.name, "this source has no settable ranges")

    def set_amps_range(self, amps: RangeRequest, channel: int | None = None) -> None:
        """Fix the current range to the smallest one holding `amps`, or `AUTO`; `channel=None` = all."""
        raise RangesNotApplicable(self.device or self.name, "this source has no settable ranges")

    # -- measurement ----------------------------------------------------------------------------

    @abstractmethod
    def start(self, interval_s: float, mark: str = "") -> None:
        """Begin sampling every `interval_s` seconds, tagging samples with `mark` ("" = no mark).

        Raises `AnalyzerStateError` if a measurement is already running, and an `AnalyzerError` if
        the source cannot sample at `interval_s` (see `Identity.min_interval_s`). Statistics restart;
        samples of an earlier measurement that were not fetched yet stay fetchable."""

    @abstractmethod
    def set_mark(self, mark: str) -> None:
        """Tag samples taken from now on with `mark`."""

    @abstractmethod
    def fetch(self) -> Trace:
        """Samples not yet read (possibly none), in time order; each sample is returned once.

        Safe to call from several threads: together they receive every sample exactly once.

        The contract every driver keeps, tested for each (`tests/test_driver_contract.py`):
        - **No sample is lost to a failure.** When the source fails (a dropped link, a dead device)
          with samples still buffered, `fetch` returns those samples first; the failure is raised
          (an `AnalyzerError` naming the device) by the first call that has nothing left to return.
        - **Channels combine into the total with `analyzers.trace.combine_channel_flags`**: the
          worst flag wins, missed (-2) over error (-1) over OK; the total's watts are NaN (no
          measurement) unless its flag is OK."""

    @abstractmethod
    def stop(self) -> None:
        """End the measurement; samples taken before stop stay fetchable.

        Raises `AnalyzerStateError` when no measurement is running (PTD: `Error: no measurement to stop`)."""

    @abstractmethod
    def stats(self) -> MeasurementStats:
        """Statistics over every sample of the current (or last) measurement."""

    @property
    @abstractmethod
    def running(self) -> bool: ...

    @property
    def unreachable(self) -> str | None:
        """Why the source can no longer be reached once its own retries are spent (a PTD daemon that
        stayed away for its whole connect timeout), else None. A caller stops asking it: each request
        would wait that long again; `close` then sends it nothing."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing to release
        """Release the device (serial port, socket, remote control). Safe to call twice."""

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
