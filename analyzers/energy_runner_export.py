"""Export a capture as an EEMBC EnergyRunner energy folder (MLPerf Tiny), which `power-check` reads.

- `trace1-energy.bin`: one header byte, then little-endian float32: the sample rate in Hz, then the
  energy of each sample in µJ (rules/tiny/energy_runner.py reads it).
- `trace1-timestamps.json`: the GPIO event times in seconds from the first sample, placed so that
  round(t × rate) is the index of the first sample after the event.
- `log.txt`: the lines of EnergyRunner's log that the checker reads: inferences per window, the
  energy monitor (`lpm01a`, whose published accuracy the checker applies; or another meter, e.g.
  `joulescope`, with a `joulebench: m-accuracy[…]` line stating its bound) and the supply voltage.

Any trace with GPIO events exports this way: the LPM01A's, and a Joulescope's reduced to the rate.

float32 keeps about 7 significant digits of each sample's µJ (at 1 kHz and 1 mW: 1.000000 µJ, i.e.
1 pJ): the format's limit, not ours. The native `Trace` (float64 watts and cumulative joules) keeps more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analyzers.trace import Trace

ENERGY_FILE = "trace1-energy.bin"
TIMESTAMPS_FILE = "trace1-timestamps.json"
LOG_FILE = "log.txt"
HEADER_BYTE = 0xF1  # what EnergyRunner's own files start with; readers skip it


def write_energy_runner(
    directory: Path,
    trace: Trace,
    event_times_ns: Sequence[int],
    rate_hz: float,
    inferences_per_window: int,
    volts: float,
    monitor: str = "lpm01a",
    accuracy: float | None = None,
) -> None:
    """Write the three files for `trace` (samples on a `1/rate_hz` grid) and its GPIO events.

    Flagged samples carry no energy (0 µJ): EnergyRunner's format has no way to mark them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    energy_uj = np.where(trace.valid_mask(), trace.watts, 0.0) / rate_hz * 1e6
    payload = np.concatenate([[rate_hz], energy_uj]).astype("<f4")
    (directory / ENERGY_FILE).write_bytes(bytes([HEADER_BYTE]) + payload.tobytes())
    first_after = np.searchsorted(trace.time_ns, np.asarray(event_times_ns, dtype=np.int64), side="left")
    timestamps = [round(int(index) / rate_hz, 9) for index in first_after]
    (directory / TIMESTAMPS_FILE).write_text(json.dumps(timestamps, indent=1), encoding="utf-8")
    log = [
        f"00000.000 parser: m-bm-cfg-name[ulp-ml]-key[iterInfer]-val[{inferences_per_window}]",
        f"00000.000 emon: m-regfile-fn[{ENERGY_FILE}]-type[emon]-name[{monitor}]",
        f"00000.000 emon: m-regfile-fn[{TIMESTAMPS_FILE}]-type[etime]-name[{monitor}]",
        f"00000.000 emon: m-voltage-mv[{round(volts * 1000)}]",
        f"00000.000 joulebench: exported by joulebench's {monitor} driver",
    ]
    if accuracy is not None:
        log.append(f"00000.000 joulebench: m-accuracy[{accuracy:.6g}]")
    (directory / LOG_FILE).write_text("\n".join(log) + "\n", encoding="utf-8")
