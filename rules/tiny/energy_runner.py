"""Files of an EEMBC EnergyRunner energy run (MLPerf Tiny), read into typed values.

- `trace1-energy.bin`: 1 header byte, then little-endian float32: the sample rate (Hz), then one energy
  value per sample in µJ.
- `trace1-timestamps.json`: GPIO timestamps in seconds from the start of the trace.
- `log.txt`: `...-key[iterInfer]-val[N]` (inferences per window), `m-regfile-fn[...]-name[lpm01a]`
  (the energy monitor), `m-voltage-mv[1800]`, `m-model-[ad01]`.
- `results.txt`: `Median energy cost is X uJ/inf.` (what EnergyRunner published).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rules.errors import InputError, reading

ENERGY_FILE = "trace1-energy.bin"
TIMESTAMPS_FILE = "trace1-timestamps.json"
MAX_TRACE_S = 86_400.0
"""A day: EnergyRunner traces last seconds to minutes; a timestamp past this is damage, not data."""
LOG_FILE = "log.txt"
RESULTS_FILE = "results.txt"

_ITER_INFER = re.compile(rb"-key\[iterInfer\]-val\[(\d+)\]")
_MONITOR = re.compile(rb"m-regfile-fn\[[^\]]*energy[^\]]*\]-type\[emon\]-name\[([^\]]+)\]")
_VOLTAGE = re.compile(rb"m-voltage-mv\[(\d+(?:\.\d+)?)\]")
_MODEL = re.compile(rb"m-model-\[([^\]]+)\]")
_STATED_ACCURACY = re.compile(rb"joulebench: m-accuracy\[([0-9.eE+-]+)\]")
_MEDIAN = re.compile(rb"Median energy cost is\s+([0-9.]+)\s*uJ/inf")


@dataclass(frozen=True)
class EnergyTrace:
    """Energy per sample (µJ) at a fixed rate, and the GPIO timestamps (s from the trace start)."""

    rate_hz: float
    energy_uj: np.ndarray
    timestamps_s: np.ndarray


@dataclass(frozen=True)
class RunLog:
    inferences_per_window: int
    monitor: str | None
    voltage_v: float | None
    model: str | None
    stated_accuracy: float | None = None
    """A relative bound an exporter states for a monitor EnergyRunner does not know (`joulebench: m-accuracy[…]`)."""


def is_energy_folder(directory: Path) -> bool:
    return (directory / ENERGY_FILE).is_file() and (directory / TIMESTAMPS_FILE).is_file()


def read_energy_trace(directory: Path) -> EnergyTrace:
    path = directory / ENERGY_FILE
    with reading(path):
        data = path.read_bytes()
    if len(data) < 5 or (len(data) - 1) % 4:
        raise InputError(path, f"is {len(data)} bytes: not a header byte followed by float32 values")
    values = np.frombuffer(data, dtype="<f4", offset=1).astype(np.float64)
    rate = float(values[0])
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(path, f"sample rate {rate!r} is not a positive number")
    return EnergyTrace(rate, values[1:], read_timestamps(directory / TIMESTAMPS_FILE))


def read_timestamps(path: Path) -> np.ndarray:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"is not a JSON list of timestamps ({exc})") from exc
    if not isinstance(raw, list) or not all(
        isinstance(t, int | float) and not isinstance(t, bool) for t in raw
    ):
        raise InputError(path, "is not a JSON list of numbers")
    times = np.asarray(raw, dtype=np.float64)
    if not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(times > MAX_TRACE_S):
        bad = int(np.flatnonzero(~np.isfinite(times) | (times < 0) | (times > MAX_TRACE_S))[0])
        raise InputError(
            path, f"timestamp {bad + 1} is {raw[bad]!r}: not a time within a trace (0 to {MAX_TRACE_S:g} s)"
        )
    if np.any(np.diff(times) < 0):
        raise InputError(path, "timestamps are not in increasing order")
    return times


def read_run_log(directory: Path) -> RunLog:
    path = directory / LOG_FILE
    with reading(path):
        text = path.read_bytes()
    match = _ITER_INFER.search(text)
    if match is None:
        raise InputError(path, "has no iterInfer setting (inferences per window)")
    inferences = int(match.group(1))
    if inferences <= 0:
        raise InputError(path, f"iterInfer is {inferences}", line=text[: match.start()].count(b"\n") + 1)
    monitor = _MONITOR.search(text)
    voltage = _VOLTAGE.search(text)
    model = _MODEL.search(text)
    stated = _STATED_ACCURACY.search(text)
    return RunLog(
        inferences_per_window=inferences,
        monitor=monitor.group(1).decode(errors="replace").lower() if monitor else None,
        voltage_v=float(voltage.group(1)) / 1000 if voltage else None,
        model=model.group(1).decode(errors="replace") if model else None,
        stated_accuracy=_fraction(stated.group(1)) if stated else None,
    )


def published_median_uj(directory: Path) -> float | None:
    """EnergyRunner's own median from `results.txt`, when the file is there."""
    try:
        text = (directory / RESULTS_FILE).read_bytes()
    except OSError:
        return None
    match = _MEDIAN.search(text)
    return float(match.group(1)) if match else None


def _fraction(text: bytes) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < 1 else None
