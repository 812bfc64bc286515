"""A fake `monsoon` package (PyMonsoon): `HVPM`/`LVPM` instruments and the `sampleEngine` module.

It has the shape the driver calls: `Monsoon()` with `setup_usb(serialno)`, `setVout`,
`getSerialNumber`, `closeDevice`; `SampleEngine(monsoon)` with `enableChannel`/`disableChannel`,
`ConsoleOutput`, `setTriggerChannel`, `setStopTrigger(style, level)` (evaluated, vectorised, on the
trigger channel after every batch), `enableCSVOutput(filename)`/`disableCSVOutput`, a blocking
`startSampling(samples, granularity)` and `dropped`. Sampling runs in real time at 5 kHz; packets
of 3 samples carry the host time since sampling began; every 128 packets the batch is processed and
written to the CSV file as the package's loop does, each number printed as NumPy 2 prints a numpy
scalar (`np.float64(1.5)`). Spans of device time can be dropped (no rows, `dropped` counts them)
and the USB link can die mid-run (`USBError` out of `startSampling`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

RATE_HZ = 5000
PACKET_SAMPLES = 3
BATCH_PACKETS = 128
VOUT = {"HVPM": (0.8, 13.5), "LVPM": (2.01, 4.55)}


class USBError(OSError):
    """What pyusb raises when the device goes away."""


def constant_ma(value: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.full(len(t), value)


@dataclass
class MonitorScript:
    serial: int = 20125
    current_ma: Callable[[np.ndarray], np.ndarray] = field(
        default_factory=lambda: lambda t: np.full(len(t), 250.0)
    )
    dropped_spans: tuple[tuple[float, float], ...] = ()  # seconds of sampling time with no rows
    unplug_after_s: float | None = None
    voltage_droop_ohm: float = 0.0  # main voltage sags by I × R


class channels:
    timeStamp = 0
    MainCurrent = 1
    USBCurrent = 2
    AuxCurrent = 3
    MainVoltage = 4
    USBVoltage = 5


class triggers:
    SAMPLECOUNT_INFINITE = 0xFFFFFFFF

    @staticmethod
    def GREATER_THAN(x: float, y: float) -> bool:
        return x > y


def make_package(*scripts: MonitorScript) -> SimpleNamespace:
    connected = {s.serial: s for s in scripts}

    class _Monsoon:
        model = "HVPM"

        def __init__(self) -> None:
            self.script: MonitorScript | None = None
            self.vout = 0.0
            self.closed = False

        def setup_usb(self, serialno: int | None = None) -> None:
            if not connected:
                raise USBError("Could not find any Monsoon device")
            if serialno is None:
                serialno = sorted(connected)[0]
            if serialno not in connected:
                raise USBError(f"Device with serial number {serialno} not found")
            self.script = connected[serialno]

        def setVout(self, value: float) -> None:
            low, high = VOUT[self.model]
            if not low <= value <= high:
                raise ValueError(f"Invalid Vout value {value}")
            self.vout = value

        def getSerialNumber(self) -> int:
            assert self.script is not None
            return self.script.serial

        def closeDevice(self) -> None:
            self.closed = True

    class _Lvpm(_Monsoon):
        model = "LVPM"

    class SampleEngine:
        def __init__(self, monsoon: _Monsoon, bulkProcessRate: int = BATCH_PACKETS) -> None:
            self.monsoon = monsoon
            self.dropped = 0
            self.enabled = {channels.timeStamp, channels.MainCurrent, channels.MainVoltage}
            self.trigger_channel = channels.timeStamp
            self.stop_style: Callable[[float, float], bool] | None = None
            self.stop_level = 0.0
            self.csv: Any = None
            self.console = True

        def ConsoleOutput(self, value: bool) -> None:
            self.console = value

        def enableChannel(self, channel: int) -> None:
            self.enabled.add(channel)

        def disableChannel(self, channel: int) -> None:
            self.enabled.discard(channel)

        def setTriggerChannel(self, channel: int) -> None:
            self.trigger_channel = channel

        def setStopTrigger(self, style: Callable[[float, float], bool], level: float) -> None:
            self.stop_style, self.stop_level = style, level

        def enableCSVOutput(self, filename: str) -> None:
            self.csv = open(filename, "w")  # noqa: SIM115 - closed by disableCSVOutput, as the package does

        def disableCSVOutput(self) -> None:
            if self.csv is not None:
                self.csv.close()
                self.csv = None

        def startSampling(
            self,
            samples: int = 5000,
            granularity: int = 1,
            legacy_timestamp: bool = False,
            calTime: int = 1250,
        ) -> None:
            script = self.monsoon.script
            assert script is not None
            order = [
                c
                for c in (channels.timeStamp, channels.MainCurrent, channels.MainVoltage)
                if c in self.enabled
            ]
            names = {0: "Time(ms)", 1: "Main(mA)", 4: "Main Voltage(V)"}
            if self.csv is not None:
                self.csv.write(",".join(names[c] for c in order) + ",\n")
            began = time.time()
            produced = 0
            batch_samples = PACKET_SAMPLES * BATCH_PACKETS
            while True:
                due = batch_samples * (produced // batch_samples + 1)
                wait = began + due / RATE_HZ - time.time()
                if wait > 0:
                    time.sleep(wait)
                index = np.arange(produced, due)
                produced = due
                t_sample = index / RATE_HZ
                if script.unplug_after_s is not None and t_sample[-1] >= script.unplug_after_s:
                    raise USBError("[Errno 19] No such device (it may have been disconnected)")
                keep = np.ones(len(index), bool)
                for begin, end in script.dropped_spans:
                    keep &= ~((t_sample >= begin) & (t_sample < end))
                self.dropped += int((~keep).sum())
                index = index[keep]
                # Each packet of three carries the host time it arrived, as the package stamps it.
                packet_time = (index // PACKET_SAMPLES + 1) * PACKET_SAMPLES / RATE_HZ
                current = script.current_ma(index / RATE_HZ)
                voltage = self.monsoon.vout - current / 1000 * script.voltage_droop_ohm
                columns = {0: packet_time, 1: current, 4: voltage}
                if self.csv is not None:
                    for row in zip(*(columns[c] for c in order), strict=True):
                        self.csv.write(",".join(repr(np.float64(v)) for v in row) + ",\n")
                    self.csv.flush()
                stop = self.stop_style
                if (
                    stop is not None
                    and len(packet_time)
                    and np.any(np.vectorize(stop)(packet_time, self.stop_level))
                ):
                    break

    sample_engine = SimpleNamespace(SampleEngine=SampleEngine, channels=channels, triggers=triggers)
    return SimpleNamespace(
        HVPM=SimpleNamespace(Monsoon=_Monsoon),
        LVPM=SimpleNamespace(Monsoon=_Lvpm),
        sampleEngine=sample_engine,
    )
