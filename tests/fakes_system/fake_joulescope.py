"""A fake `joulescope` package: `scan()` and device objects with the v1 API the driver calls.

The device streams in real time at its sampling frequency (1 Msps for a JS220 by default): a
thread produces every sample due by now, in blocks of about 10 ms, into a ring buffer of 30 s
(float32 current, voltage, power; u8 inputs `current_lsb`/`voltage_lsb`, i.e. GPI0/GPI1), and
calls each registered stream processor's `stream_notify(stream_buffer)`. Sensor-side statistics
arrive at 2 Hz with charge and energy accumulators since open (or since `statistics_accumulators_clear`).
Signals are functions of the device's own time (s since streaming started); samples can be lost
(NaN, as the instrument marks them) and the device can be unplugged mid-stream: the thread stops,
`stop_fn(event, message)` is called, and every later call raises, as a removed USB device does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Signal = Callable[[np.ndarray], np.ndarray]
SAMPLING_FREQUENCIES = (1_000_000, 500_000, 200_000, 100_000, 50_000, 20_000, 10_000)
I_RANGES = ("auto", "10 A", "2 A", "180 mA", "18 mA", "1.8 mA", "180 µA", "18 µA", "off")
V_RANGES = ("15V", "5V")
RING_S = 30.0


def constant(value: float) -> Signal:
    return lambda t: np.full(len(t), value)


@dataclass
class DeviceScript:
    """What one fake instrument does."""

    serial: str = "002557"
    model: str = "js220"
    frequency: int = 1_000_000
    current: Signal = field(default_factory=lambda: constant(0.010))  # A
    voltage: Signal = field(default_factory=lambda: constant(3.3))  # V
    gpi0: Signal = field(default_factory=lambda: constant(1))
    gpi1: Signal = field(default_factory=lambda: constant(0))
    noise_a: float = 0.0  # rms current noise
    lost: tuple[tuple[float, float], ...] = ()  # device-time spans whose samples come as NaN
    unplug_after_s: float | None = None
    block_s: float = 0.01
    seed: int = 7


class FakeStreamBuffer:
    def __init__(self, frequency: int) -> None:
        self.output_sampling_frequency = self.input_sampling_frequency = frequency
        self._size = int(RING_S * frequency)
        self._data = {
            "current": np.zeros(self._size, np.float32),
            "voltage": np.zeros(self._size, np.float32),
            "power": np.zeros(self._size, np.float32),
            "current_lsb": np.zeros(self._size, np.uint8),
            "voltage_lsb": np.zeros(self._size, np.uint8),
        }
        self._end = 0
        self._lock = threading.Lock()

    @property
    def sample_id_range(self) -> tuple[int, int]:
        with self._lock:
            return max(0, self._end - self._size), self._end

    def reset(self) -> None:
        with self._lock:
            self._end = 0

    def insert(self, values: dict[str, np.ndarray]) -> None:
        count = len(values["current"])
        with self._lock:
            positions = (self._end + np.arange(count)) % self._size
            for name, array in values.items():
                self._data[name][positions] = array
            self._end += count

    def samples_get(self, start: int, stop: int, fields: list[str] | None = None) -> dict[str, Any]:
        with self._lock:
            start = max(start, self._end - self._size, 0)
            stop = min(stop, self._end)
            positions = np.arange(start, stop) % self._size
            units = {"current": "A", "voltage": "V", "power": "W", "current_lsb": "", "voltage_lsb": ""}
            return {
                "time": {
                    "sample_id_range": {"value": [start, stop], "units": "samples"},
                    "samples": {"value": stop - start, "units": "samples"},
                    "output_sampling_frequency": {"value": self.output_sampling_frequency, "units": "Hz"},
                },
                "signals": {
                    name: {"value": self._data[name][positions].copy(), "units": units[name]}
                    for name in (fields or list(self._data))
                },
            }


class FakeDevice:
    def __init__(self, script: DeviceScript) -> None:
        self.script = script
        self.device_path = f"u/{script.model}/{script.serial}"
        self.device_serial_number = script.serial
        self.parameters: dict[str, Any] = {"i_range": "off", "v_range": "15V"}
        self.is_open = False
        self.removed = False
        self.opened = 0
        self.stream_buffer = FakeStreamBuffer(script.frequency)
        self._processors: list[Any] = []
        self._statistics: list[Callable[[dict[str, Any]], None]] = []
        self._stop_fn: Callable[[int, str], None] | None = None
        self._streaming = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rng = np.random.default_rng(script.seed)
        self._accumulated = [0.0, 0.0]  # charge C, energy J since clear
        self._stats_start = 0
        self._device_sample = 0  # the instrument's own sample counter (runs while open)
        self.stream_started_at_sample = 0

    def __str__(self) -> str:
        return f"Device({self.device_path})"

    @property
    def sampling_frequency(self) -> int:
        return self.script.frequency

    def _alive(self) -> None:
        if self.removed:
            raise RuntimeError(f"{self}: device removed")

    # -- the v1 API the driver calls -------------------------------------------------------------

    def open(self, event_callback_fn: Any = None, mode: Any = None, timeout: Any = None) -> None:
        self._alive()
        if self.is_open:
            raise RuntimeError(f"{self}: already open")
        self.is_open, self.opened = True, self.opened + 1
        self._closing.clear()
        thread = threading.Thread(target=self._run, daemon=True, name="fake joulescope")
        self._threads.append(thread)
        thread.start()

    def close(self, timeout: Any = None) -> None:
        self.stop()
        self._closing.set()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        self.is_open = False

    def parameter_set(self, name: str, value: Any) -> None:
        self._alive()
        allowed: dict[str, tuple[Any, ...]] = {
            "i_range": I_RANGES,
            "v_range": V_RANGES,
            "sampling_frequency": SAMPLING_FREQUENCIES,
        }
        if name not in allowed:
            raise KeyError(name)
        if value not in allowed[name]:
            raise ValueError(f"invalid value {value!r} for parameter {name}")
        self.parameters[name] = value
        if name == "sampling_frequency":
            self.script.frequency = int(value)
            self.stream_buffer = FakeStreamBuffer(int(value))

    def statistics_callback_register(self, cbk: Callable[[dict[str, Any]], None], source: Any = None) -> None:
        self._statistics.append(cbk)

    def statistics_callback_unregister(
        self, cbk: Callable[[dict[str, Any]], None], source: Any = None
    ) -> None:
        self._statistics.remove(cbk)

    def statistics_accumulators_clear(self) -> None:
        self._accumulated = [0.0, 0.0]

    def stream_process_register(self, obj: Any) -> None:
        obj.driver_active = True
        self._processors.append(obj)

    def stream_process_unregister(self, obj: Any) -> None:
        obj.driver_active = False

    def start(
        self,
        stop_fn: Callable[[int, str], None] | None = None,
        duration: Any = None,
        contiguous_duration: Any = None,
    ) -> None:
        self._alive()
        self.stop()
        self.stream_buffer.reset()
        self._stop_fn = stop_fn
        self.stream_started_at_sample = self._device_sample
        for obj in self._processors:
            if obj.driver_active and hasattr(obj, "start"):
                obj.start(self.stream_buffer)
        self._streaming.set()

    def stop(self) -> bool:
        if not self._streaming.is_set():
            return False
        self._streaming.clear()
        fn, self._stop_fn = self._stop_fn, None
        if fn is not None:
            fn(0, "")
        for obj in self._processors:
            if obj.driver_active and hasattr(obj, "stop"):
                obj.stop()
        return True

    # -- the instrument ---------------------------------------------------------------------------

    def _samples(self, first: int, count: int) -> dict[str, np.ndarray]:
        t = (first + np.arange(count)) / self.script.frequency
        current = self.script.current(t) + (
            self._rng.normal(0, self.script.noise_a, count) if self.script.noise_a else 0
        )
        voltage = self.script.voltage(t)
        lost = np.zeros(count, bool)
        for begin, end in self.script.lost:
            lost |= (t >= begin) & (t < end)
        current = np.where(lost, np.nan, current)
        voltage = np.where(lost, np.nan, voltage)
        return {
            "current": current.astype(np.float32),
            "voltage": voltage.astype(np.float32),
            "power": (current * voltage).astype(np.float32),
            "current_lsb": (self.script.gpi0(t) > 0.5).astype(np.uint8),
            "voltage_lsb": (self.script.gpi1(t) > 0.5).astype(np.uint8),
        }

    def _run(self) -> None:
        began = time.monotonic()
        stream_sample = 0
        stats_due = began + 0.5
        while not self._closing.wait(self.script.block_s):
            due = int((time.monotonic() - began) * self.script.frequency)
            count = due - self._device_sample
            if count <= 0:
                continue
            streaming = self._streaming.is_set()
            first = stream_sample if streaming else 0
            values = self._samples(first, count)
            self._device_sample = due
            charge = float(np.nansum(values["current"].astype(np.float64))) / self.script.frequency
            energy = float(np.nansum(values["power"].astype(np.float64))) / self.script.frequency
            self._accumulated[0] += charge
            self._accumulated[1] += energy
            if streaming:
                stream_sample += count
                if (
                    self.script.unplug_after_s is not None
                    and stream_sample / self.script.frequency >= self.script.unplug_after_s
                ):
                    self._unplug()
                    return
                self.stream_buffer.insert(values)
                for obj in list(self._processors):
                    if obj.driver_active and obj.stream_notify(self.stream_buffer):
                        self.stop()
            else:
                stream_sample = 0
            if time.monotonic() >= stats_due:
                stats_due += 0.5
                self._publish_statistics()

    def _publish_statistics(self) -> None:
        charge, energy = self._accumulated
        value = {
            "time": {"samples": {"value": [self._stats_start, self._device_sample], "units": "samples"}},
            "signals": {},
            "accumulators": {
                "charge": {"value": charge, "units": "C"},
                "energy": {"value": energy, "units": "J"},
            },
            "source": "sensor",
        }
        self._stats_start = self._device_sample
        for cbk in list(self._statistics):
            cbk(value)

    def _unplug(self) -> None:
        self.removed = True
        self._streaming.clear()
        fn, self._stop_fn = self._stop_fn, None
        if fn is not None:
            fn(1, "device removed")


class FakeJoulescope:
    """The module: `scan(config=...)` lists the connected devices."""

    def __init__(self, *scripts: DeviceScript) -> None:
        self.devices = [FakeDevice(s) for s in scripts]

    def scan(self, name: Any = None, config: Any = None) -> list[FakeDevice]:
        return [d for d in self.devices if not d.removed]
