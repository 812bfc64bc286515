"""`PtdAnalyzer`: a PTD daemon (SPEC PTDaemon or ours) used wherever an `Analyzer` is (driver `ptd`).

    create_analyzer("ptd", "ptd://127.0.0.1:8888")
    power-analyzer read --driver ptd --device ptd://127.0.0.1:8888

Optionally launches the daemon first (`launch=[...]`, PTDaemon's own command line) and copies its
console to `console_log`, flushed line by line. Sample times are the daemon's UTC wall clock from
its sample lines. Statistics (`stats()`) are the daemon's own `Watts` and `Uncertainty` figures,
plus `extra["lost_samples"]` (announced in an `RL` reply that a dropped connection cut short) and
`extra["reconnects"]`; with a launched daemon also `extra["console_<problem>"]`, the sample
problems its console reported since launch (`analyzers.ptd.client.console`). PTD's sample lines carry no mark; fetched samples carry the mark the client
set, and a mark change first reads the samples taken under the old mark.

On the `StreamedAnalyzer` base, producing on demand: each `fetch` sends one `RL` (no thread, so the
record of the exchange follows the caller's reads); the base holds the samples a cut reply
delivered ahead of the failure, as `Analyzer.fetch`'s contract says.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from analyzers.base import (
    CAP_AMPS,
    CAP_ENERGY,
    CAP_PF,
    CAP_RANGES,
    CAP_UNCERTAINTY,
    CAP_VOLTS,
    CAP_WATTS,
    Identity,
    MeasurementStats,
    RangeRequest,
    Ranges,
)
from analyzers.errors import AnalyzerError, AnalyzerStateError, RangesNotApplicable
from analyzers.ptd.client.endpoint import parse_endpoint
from analyzers.ptd.client.launch import LaunchedDaemon
from analyzers.ptd.client.protocol import PtdClient, SamplesLost
from analyzers.ptd.client.replies import PtdIdentity
from analyzers.ptd.client.transport import ConnectPolicy
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import Trace

MIN_INTERVAL_S = 0.001
"""PTD intervals are whole milliseconds; the daemon refuses what its meter cannot do."""


class PtdAnalyzer(StreamedAnalyzer):
    """A PTD endpoint as an `Analyzer`. Connects and identifies the daemon on construction.

    `channels` overrides the channel count (otherwise: the sample lines' count once samples arrive,
    before that the `Identify` field). `first_channel` is the daemon's start channel (`-c a,b`), used
    to number channels in `RR`/`SR`."""

    name = "ptd"
    sample_uncertainty = False
    stamps_own_clock = True
    on_demand = True

    def __init__(
        self,
        device: str = "",
        *,
        connect_timeout_s: float | None = None,
        command_timeout_s: float | None = None,
        channels: int | None = None,
        first_channel: int = 1,
        launch: str | Sequence[str] | None = None,
        console_log: str | Path | None = None,
        first_contact_timeout_s: float | None = None,
    ) -> None:
        endpoint = parse_endpoint(device)
        super().__init__(endpoint.url)
        defaults = ConnectPolicy()
        policy = replace(
            defaults,
            connect_timeout_s=connect_timeout_s or endpoint.connect_timeout_s or defaults.connect_timeout_s,
            command_timeout_s=command_timeout_s or endpoint.command_timeout_s or defaults.command_timeout_s,
        )
        if channels is not None and channels < 1:
            raise AnalyzerError(self.device, f"channels must be at least 1, got {channels}")
        self._explicit_channels = channels
        self._observed_channels: int | None = None
        self._first_channel = first_channel
        self._lock = self._sampling_lock
        self._needs_drain = False
        self._read_rest = True
        self._mark = ""
        self._lost = 0
        self._closed = False
        self.daemon: LaunchedDaemon | None = None
        if launch is not None:
            if console_log is None:
                raise AnalyzerError(
                    self.device, "launching a daemon needs console_log, the file for its output"
                )
            command = shlex.split(launch) if isinstance(launch, str) else list(launch)
            self.daemon = LaunchedDaemon(command, console_log)
        # A daemon that just failed gets `first_contact_timeout_s` to connect and answer `Hello` and
        # `Identify`, not the connect timeout meant for one still starting; then the usual timeouts.
        first = policy
        if first_contact_timeout_s is not None:
            first = replace(
                policy, connect_timeout_s=first_contact_timeout_s, command_timeout_s=first_contact_timeout_s
            )
        self.client = PtdClient(
            endpoint.host,
            endpoint.port,
            first,
            still_worth_trying=self.daemon.exit_reason if self.daemon else lambda: None,
        )
        try:
            self.client.connect()
            self._ptd_identity = self.client.identify()
        except BaseException:
            self._release()
            raise
        self.client.set_policy(policy)

    # -- identity and layout --------------------------------------------------------------------

    @property
    def ptd_identity(self) -> PtdIdentity:
        """Every field of the daemon's `Identify` reply (version, CRC, build date...)."""
        return self._ptd_identity

    def identify(self) -> Identity:
        ptd = self._ptd_identity
        flags = {
            CAP_WATTS: ptd.can_watts,
            CAP_VOLTS: ptd.can_volts,
            CAP_AMPS: ptd.can_amps,
            CAP_PF: ptd.can_pf,
            CAP_ENERGY: ptd.can_energy,
            CAP_UNCERTAINTY: ptd.can_uncertainty,
            CAP_RANGES: ptd.can_set_ranges,
        }
        return Identity(
            model=ptd.model,
            serial=ptd.serial,
            firmware=ptd.firmware,
            vendor=ptd.vendor,
            capabilities=frozenset(name for name, present in flags.items() if present),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        if self._explicit_channels is not None:
            return self._explicit_channels
        if self._observed_channels is not None:
            return self._observed_channels
        return max(1, self._ptd_identity.channels)

    def messages_json(self) -> list[dict[str, str]]:
        """Every exchange with the daemon, in order, for `server.json` `ptd_messages`."""
        return self.client.messages_json()

    def daemon_exit(self) -> str | None:
        """For a daemon this analyzer launched: None while it runs (or when it launched none), else
        a sentence saying how it ended."""
        return self.daemon.exit_reason() if self.daemon is not None else None

    # -- ranges ---------------------------------------------------------------------------------

    @property
    def supports_ranges(self) -> bool:
        return self._ptd_identity.can_set_ranges

    def _ptd_channel(self, channel: int | None) -> int | None:
        if channel is None:
            return None
        if not 1 <= channel <= self.channel_count:
            raise AnalyzerError(self.device, f"no channel {channel}; this daemon has {self.channel_count}")
        return self._first_channel + channel - 1

    def get_ranges(self, channel: int | None = None) -> Ranges:
        if not self.supports_ranges:
            raise RangesNotApplicable(self.device, "the daemon's meter has no settable ranges")
        ptd_channel = self._ptd_channel(channel)
        return self.client.read_ranges(None if ptd_channel is None else str(ptd_channel))[0]

    def set_volts_range(self, volts: RangeRequest, channel: int | None = None) -> None:
        if not self.supports_ranges:
            raise RangesNotApplicable(self.device, "the daemon's meter has no settable ranges")
        self.client.set_range("V", volts, self._ptd_channel(channel))

    def set_amps_range(self, amps: RangeRequest, channel: int | None = None) -> None:
        if not self.supports_ranges:
            raise RangesNotApplicable(self.device, "the daemon's meter has no settable ranges")
        self.client.set_range("A", amps, self._ptd_channel(channel))

    # -- measurement ----------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        interval_ms = round(interval_s * 1000)
        if interval_ms < 1 or abs(interval_ms - interval_s * 1000) > 1e-6:
            raise AnalyzerError(
                self.device,
                f"PTD samples at whole milliseconds; {interval_s:g} s is not a whole number of them",
            )
        try:
            self.client.go(interval_ms, 0, mark)
        except ValueError as error:
            raise AnalyzerError(self.device, str(error)) from None
        self._mark = mark
        self._needs_drain = True

    def set_mark(self, mark: str) -> None:
        with self._lock:
            if not self.running:
                self._mark = mark
                return
            self._emit(self._read())  # samples so far keep the old mark
            try:
                self.client.mark(mark)
            except ValueError as error:
                raise AnalyzerError(self.device, str(error)) from None
            self._mark = mark

    def _collect(self) -> None:
        """One `RL` while samples may be waiting at the daemon (and no failure is held back)."""
        if not self._needs_drain or self._failure is not None:
            return
        try:
            self._emit(self._read())
        except AnalyzerError as error:
            self._fail(error)  # after what a cut reply delivered (`_read` handed that over)
            return
        if not self.running:
            self._needs_drain = False

    def _read(self) -> Trace:
        """One `RL`, marked; samples a dropped connection delivered are handed over before the error."""
        try:
            chunk = self.client.read_samples()
        except SamplesLost as error:
            self._lost += error.lost
            self._emit(self._tagged(error.received))
            raise
        return self._tagged(chunk)

    def _tagged(self, chunk: Trace) -> Trace:
        if len(chunk) and chunk.channel_count > 1:
            self._observed_channels = chunk.channel_count
        if not self._mark or not len(chunk):
            return chunk
        return replace(chunk, mark_codes=np.zeros(len(chunk), dtype=np.int32), mark_names=(self._mark,))

    def stop(self, read_rest: bool = True) -> None:
        """`Stop`, then (`read_rest`) one `RL` for the samples not read yet; without it, the next
        `fetch` reads them (a caller that keeps that read apart from the session's exchange)."""
        with self._lock:
            self._read_rest = read_rest
            super().stop()

    def _request_stop(self) -> None:
        try:
            self.client.stop()
        except AnalyzerStateError:
            self._drain_after_stop()
            raise AnalyzerStateError(
                self.device,
                "the daemon had already ended the measurement (a dropped connection ends it)",
                "its samples were read; check the daemon's console",
            ) from None
        if self._read_rest:
            self._drain_after_stop()

    def restart_sample_reads(self) -> None:
        """The next read tries `RL,*,*` first again, as the reference director does after each `Stop`."""
        self.client.forget_sample_command()

    def confirm_stopped(self) -> str:
        """`Stop` with nothing running, as 2021-22 directors closed a session; PTD's refusal
        (`Error: no measurement to stop`) is the expected reply, and returned."""
        with self._lock:
            if self.running:
                raise AnalyzerStateError(self.device, "a measurement is running")
            try:
                reply = self.client.stop()
            except AnalyzerStateError:
                last = self.client.record.last()
                return last.reply if last is not None else ""
            raise AnalyzerStateError(self.device, f"'Stop' with nothing running answered {reply!r}")

    def _drain_after_stop(self) -> None:
        self._emit(self._read())
        self._needs_drain = False

    def stats(self, order: Sequence[str] = ("Watts", "Uncertainty")) -> MeasurementStats:
        """The daemon's `Watts` and `Uncertainty` figures, asked in `order` (eras of the reference
        director differ in it)."""
        if sorted(order) != ["Uncertainty", "Watts"]:
            raise ValueError(f"order names Watts and Uncertainty once each, got {list(order)}")
        with self._lock:
            if order[0] == "Watts":
                watts = self.client.watts()[0]
                uncertainty = self.client.uncertainty()[0]
            else:
                uncertainty = self.client.uncertainty()[0]
                watts = self.client.watts()[0]
            extra = {
                "lost_samples": float(self._lost),
                "reconnects": float(max(0, len(self.client.connections) - 1)),
            }
            if self.daemon is not None:
                extra.update({f"console_{k}": float(v) for k, v in self.daemon.problem_counts().items()})
            return MeasurementStats(**asdict(watts), **uncertainty.stats_fields(), extra=extra)

    def summary_reply(self, command: str) -> str | None:
        """The upstream daemon's own `Watts`/`Uncertainty` line, so a daemon re-serving it passes it on."""
        if command not in ("Watts", "Watts,*", "Uncertainty", "Uncertainty,*"):
            return None
        with self._lock:
            reply = self.client.request(command)
        return reply if reply.startswith(command.split(",")[0] + ",") else None

    @property
    def unreachable(self) -> str | None:
        gone = self.client.unreachable
        return None if gone is None else str(gone)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self.running and self.unreachable is not None:
                # Its measurement ended with its connection; a Stop would only retry for connect_timeout.
                self._measuring = False
            elif self.running:
                # Closing anyway; the daemon also ends a measurement whose client leaves.
                with contextlib.suppress(AnalyzerError):
                    self.stop()
            self._release()

    def _release(self) -> None:
        self._closed = True
        self.client.close()
        if self.daemon is not None:
            self.daemon.stop()
