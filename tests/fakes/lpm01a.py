"""A fake ST LPM01A (PowerShield) on a pty: acks commands, streams ASCII samples in real time.

After `start` it prints sample i (0-based) at t_start + (i+1)/freq, in bursts every few ms as the
USB link does, with a `TimeStamp:` line every 100 samples and `event <n> fal` lines before the
scripted sample indexes (GPIO D7 edges). A sample is the energy of its interval (`output energy`)
or the current (`output current`) as a `dddd-ee` token; `value(i)` is exactly what the token says.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fakes.links import Endpoint

PROMPT = "PowerShield > "


def token(value: float) -> str:
    """Four-digit mantissa and a two-digit negative decimal exponent, as the board prints them."""
    exponent = 3 - math.floor(math.log10(value))
    mantissa = round(value * 10**exponent)
    if mantissa == 10_000:
        mantissa, exponent = 1000, exponent - 1
    return f"{mantissa:04d}-{exponent:02d}"


def token_value(text: str) -> float:
    mantissa, exponent = text.split("-")
    return int(mantissa) / 10.0 ** int(exponent)


def default_power(i: int) -> float:
    return 0.0123456 + 0.001 * ((i // 100) % 4)


class FakeLpm01a:
    def __init__(
        self,
        power_w: Callable[[int], float] = default_power,
        events_at: tuple[int, ...] = (),
        refuse: frozenset[str] = frozenset(),
        disconnect_after: int | None = None,
    ) -> None:
        self.power_w = power_w
        self.events_at = events_at
        self.refuse = refuse
        self.disconnect_after = disconnect_after
        self.received: list[str] = []
        self.in_control = False
        self.settings: dict[str, str] = {}
        self.streamed = 0
        self._endpoint: Endpoint | None = None
        self._streaming = threading.Event()
        self._stream_thread: threading.Thread | None = None

    def attach(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def _send(self, text: str) -> None:
        assert self._endpoint is not None
        self._endpoint.send(text)

    @property
    def freq_hz(self) -> float:
        text = self.settings.get("freq", "100")
        return float(text[:-1]) * 1000 if text.endswith("k") else float(text)

    def value(self, i: int) -> float:
        """Sample i as the token prints it: J per sample (energy) or A (current)."""
        watts = self.power_w(i)
        if self.settings.get("output") == "current":
            volts = int(self.settings["volt"].rstrip("m")) / 1000
            return token_value(token(watts / volts))
        return token_value(token(watts / self.freq_hz))

    def handle(self, line: str) -> None:
        self.received.append(line)
        words = line.split()
        if not words:
            return
        name = words[0]
        if name in self.refuse:
            self._send(f"{PROMPT}error: {name}")
            self._send(f"Error detail: '{name}' is not supported by this firmware")
            return
        if name not in ("htc", "version") and not self.in_control:
            self._send(f"{PROMPT}error: host has not taken control")
            self._send("Error detail: send htc first")
            return
        if name == "htc":
            self.in_control = True
        elif name == "hrc":
            self.in_control = False
            self._stop_stream()
        elif name == "version":
            self._send(f"{PROMPT}ack version 1.0.5")
            return
        elif name == "volt" and not 1800 <= int(words[1].rstrip("m")) <= 3300:
            self._send(f"{PROMPT}error: wrong value")
            self._send("Error detail: voltage must be between 1800m and 3300m")
            return
        elif name == "start":
            self._start_stream()
            self._send(f"{PROMPT}ack start")
            return
        elif name == "stop":
            self._stop_stream()
            self._send(f"{PROMPT}ack stop")
            self._send("Acquisition completed")
            for text in ("summary beg", "acquisition time: 000s", "summary end"):
                self._send(text)
            return
        elif len(words) > 1:
            self.settings[name] = " ".join(words[1:])
        self._send(f"{PROMPT}ack {line}")

    def _start_stream(self) -> None:
        self._streaming.set()
        self._stream_thread = threading.Thread(target=self._stream, daemon=True)
        self._stream_thread.start()

    def _stop_stream(self) -> None:
        self._streaming.clear()
        if self._stream_thread is not None:
            self._stream_thread.join(timeout=2)
            self._stream_thread = None

    def _stream(self) -> None:
        assert self._endpoint is not None
        started = time.monotonic()
        freq = self.freq_hz
        i = 0
        while self._streaming.is_set():
            due = math.floor((time.monotonic() - started) * freq)
            lines = []
            while i < due:
                if i in self.events_at:
                    lines.append(f"event {self.events_at.index(i) + 1} fal")
                lines.append(token(self.value(i)))
                i += 1
                if i % 100 == 0:
                    ms = round(i / freq * 1000)
                    lines.append(f"TimeStamp: {ms // 1000:03d}s {ms % 1000:03d}ms, buff 00%")
                if self.disconnect_after is not None and i >= self.disconnect_after:
                    self._endpoint.send_bytes("".join(line + "\r\n" for line in lines).encode())
                    self.streamed = i
                    time.sleep(0.1)  # let the bytes reach the driver: we test what it keeps, not the pty
                    self._endpoint.disconnect()
                    return
            if lines:
                self._endpoint.send_bytes("".join(line + "\r\n" for line in lines).encode())
            self.streamed = i
            time.sleep(0.004)
