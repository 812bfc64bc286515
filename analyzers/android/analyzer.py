"""`AndroidAnalyzer` (`--source android:SERIAL[,current_unit=uA|mA][,discharge_sign=positive|negative]
[,allow_charging=true][,battery=NAME][,adb=PATH]`): a phone's battery power from its fuel gauge."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import replace

import numpy as np

from analyzers.android import gauge, shell
from analyzers.base import CAP_AMPS, CAP_VOLTS, CAP_WATTS, Identity, MeasurementStats
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK, Trace

MIN_INTERVAL_S = 0.1
"""Fuel gauges refresh `current_now` every 0.1–1 s; faster reads repeat values."""
CHARGING_HINT = (
    "use wireless adb (`adb tcpip`, then unplug the cable) or a battery power bypass, "
    "or pass allow_charging=true to measure the net current anyway"
)


class AndroidAnalyzer(StreamedAnalyzer):
    """One channel: the battery's output power, V × I of the fuel gauge, on the device's own sampling loop.

    A charger that is online makes the gauge read the charger's net current, not the load: refused at
    start, and from the moment one comes online during a run its samples are errors (-1), said once,
    unless `allow_charging`. A sample whose power is not positive (the battery is being charged) or
    whose line the device could not fill is an error sample too. Times come from the device's uptime,
    placed on this machine's clock by the line that arrived soonest after it was written.
    """

    name = "android"

    def __init__(
        self,
        device: str = "",
        *,
        current_unit: str = "auto",
        discharge_sign: str = "auto",
        allow_charging: bool = False,
        battery: str = "",
        adb: str = "adb",
        timeout_s: float = 10.0,
    ) -> None:
        serial = device.strip()
        if not serial:
            raise AnalyzerError(
                "android", "give the device's serial: android:SERIAL (as `adb devices` lists it)"
            )
        super().__init__(shell.checked_name(serial, serial, "serial"))
        found = shutil.which(adb)
        if found is None:
            raise AnalyzerError(
                serial, f"{adb} is not installed or not on PATH", "install Android platform-tools"
            )
        self.adb = found
        self.allow_charging = bool(allow_charging)
        self.timeout_s = timeout_s
        supplies = shell.parse_probe(serial, shell.run_adb(found, serial, shell.PROBE, timeout_s))
        chosen = self._battery(supplies, battery)
        self.battery = chosen.name
        self.chargers = [s.name for s in supplies if s.is_charger]
        online = [s.name for s in supplies if s.is_charger and s.online]
        if online and not self.allow_charging:
            raise AnalyzerError(
                serial,
                f"{' and '.join(online)} power is online, so the fuel gauge reads the charger's net current, not the load",
                CHARGING_HINT,
            )
        if chosen.current is None or chosen.voltage is None:
            raise AnalyzerError(
                serial, f"{shell.SUPPLIES}/{chosen.name} has no readable current_now and voltage_now"
            )
        self.conventions = gauge.detect(
            serial, chosen.current, chosen.voltage, chosen.status, current_unit, discharge_sign
        )
        self._process: subprocess.Popen[str] | None = None
        self._interval_s = 1.0
        self._mark = ""
        self._offset_ns: int | None = None
        self._last_ns = 0
        self._charging_said = False
        self._charge_uah: list[float] = []  # the charge counter's first and latest reading
        self._stderr: deque[str] = deque(maxlen=5)

    def _battery(self, supplies: list[shell.Supply], wanted: str) -> shell.Supply:
        batteries = [s for s in supplies if s.type == "Battery"]
        if wanted:
            named = [s for s in supplies if s.name == wanted]
            if not named:
                raise AnalyzerError(
                    self.device,
                    f"no power supply {wanted!r}; there are {', '.join(s.name for s in supplies)}",
                )
            return named[0]
        if not batteries:
            raise AnalyzerError(
                self.device,
                f"no supply of type Battery among {', '.join(s.name for s in supplies)}",
                "name it: battery=NAME",
            )
        return next((s for s in batteries if s.name == "battery"), batteries[0])

    def identify(self) -> Identity:
        return Identity(
            # No commas: PTD's Identify reply is comma-separated.
            model=f"Android fuel gauge {self.battery}; {self.conventions.describe()}",
            serial=self.device,
            vendor="Android",
            capabilities=frozenset({CAP_WATTS, CAP_VOLTS, CAP_AMPS}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return 1

    def set_mark(self, mark: str) -> None:
        self._mark = mark

    # -- measurement ----------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        if not (np.isfinite(interval_s) and MIN_INTERVAL_S <= interval_s <= 3600):
            raise AnalyzerError(
                self.device, f"interval must be between {MIN_INTERVAL_S:g} s and 3600 s, got {interval_s} s"
            )
        self._interval_s = interval_s
        self._mark = mark
        self._charge_uah = []
        script = shell.sampling_loop(self.battery, self.chargers, interval_s)
        # Its own process group: stopping ends adb and whatever it started, at once.
        self._process = subprocess.Popen(
            shell.adb_argv(self.adb, self.device, "shell", script),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        threading.Thread(target=self._keep_stderr, args=(self._process,), daemon=True).start()

    def _keep_stderr(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if line.strip():
                self._stderr.append(line.strip())

    def _stream(self, stop: threading.Event) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            arrived_ns = time.time_ns()
            if stop.is_set():
                break
            if line.startswith("J "):
                self._emit(self._sample(line, arrived_ns))
        if stop.is_set():
            return
        status = process.wait()
        said = self._stderr[-1] if self._stderr else "no message"
        raise AnalyzerConnectionError(
            self.device,
            f"the device went away during the measurement: adb exited with status {status} ({said})",
            "check the cable or the wireless adb connection; the samples before are kept",
        )

    def _sample(self, line: str, arrived_ns: int) -> Trace:
        try:
            reading = gauge.parse_line(line, len(self.chargers))
        except gauge.GaugeLineError:
            stamp = max(arrived_ns, self._last_ns + 1)
            self._last_ns = stamp
            return Trace.from_columns(
                [stamp], [np.nan], flags=[SAMPLE_ERROR], marks=self._mark or None, source=self.device
            )
        if reading.charge_uah is not None:
            if self._charge_uah:
                self._charge_uah[1] = reading.charge_uah
            else:
                self._charge_uah = [reading.charge_uah, reading.charge_uah]
        # The soonest-arriving line bounds adb's delay best: every sample is placed by it.
        offset = arrived_ns - reading.uptime_ns
        self._offset_ns = offset if self._offset_ns is None else min(self._offset_ns, offset)
        stamp = max(reading.uptime_ns + self._offset_ns, self._last_ns + 1)
        self._last_ns = stamp
        watts = self.conventions.load_watts(reading.current, reading.voltage)
        volts = reading.voltage * self.conventions.volts_per_unit
        amps = abs(reading.current * self.conventions.amps_per_unit)
        flag = SAMPLE_OK
        if any(reading.chargers_online) and not self.allow_charging:
            flag = SAMPLE_ERROR
            if not self._charging_said:
                self._charging_said = True
                online = [c for c, on in zip(self.chargers, reading.chargers_online, strict=True) if on]
                self._fail(
                    AnalyzerError(
                        self.device,
                        f"{' and '.join(online)} power came online during the measurement: from then the gauge "
                        "reads the charger's net current, not the load, and its samples are flagged as errors",
                        CHARGING_HINT,
                    )
                )
        elif not watts > 0:
            flag = SAMPLE_ERROR  # the battery is being charged: the gauge does not see the load
        return Trace.from_columns(
            [stamp],
            [watts if flag == SAMPLE_OK else np.nan],
            volts=[volts],
            amps=[amps],
            flags=[flag],
            marks=self._mark or None,
            source=self.device,
        )

    def stats(self) -> MeasurementStats:
        """With `extra["charge_counter_used_mah"]`: the gauge's own coulomb count over the measurement,
        a cross-check of the integrated V × I (it moves in steps of the gauge's resolution)."""
        stats = super().stats()
        if len(self._charge_uah) == 2:
            first, latest = self._charge_uah
            stats = replace(stats, extra={**stats.extra, "charge_counter_used_mah": (first - latest) / 1000})
        return stats

    def _request_stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended on its own just now
                os.killpg(process.pid, signal.SIGTERM)

    def _stop_timeout_s(self) -> float:
        return self.timeout_s

    def close(self) -> None:
        if self.running:
            self.stop()
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
