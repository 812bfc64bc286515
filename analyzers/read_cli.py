"""`power-analyzer read`: print live samples from one power source, for checking the wiring.

One line per sample (UTC time, W, V, A, PF, flag; per channel too on a multi-channel meter), then a
statistics line. Bad option values give one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from analyzers.base import MeasurementStats
from analyzers.option_values import OptionError, count, positive_seconds, source_option
from analyzers.registry import create_analyzer
from analyzers.source_spec import SourceSpec, add_source_command
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, ChannelBlock, Trace

_FLAG_WORDS = {0: "ok", SAMPLE_ERROR: "error", SAMPLE_MISSED: "missed"}
# Print at most this often; a 10 µs meter still shows every sample, in batches.
_MIN_POLL_S = 0.05


@dataclass(frozen=True)
class ReadOptions:
    source: SourceSpec
    seconds: float
    interval_s: float
    channels: int | None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_source_command(
        subparsers,
        "read",
        help="print live samples from a power source (wiring check)",
        epilog="Exit status: 0 done, 2 a bad option or a device that cannot be read, 130 interrupted.",
        examples="nvml:0, yokogawa:/dev/ttyUSB0,channels=3",
    )
    # Values are parsed in the handler, so a bad one is one sentence rather than argparse's usage dump.
    parser.add_argument("--seconds", default="5", metavar="N", help="how long to read (default 5)")
    parser.add_argument("--interval", default="1", metavar="S", help="sample interval in seconds (default 1)")
    parser.add_argument("--channels", default=None, metavar="N", help="number of channels (driver option)")
    parser.set_defaults(handler=run)


def parse_options(args: argparse.Namespace) -> ReadOptions:
    seconds = positive_seconds(args.seconds, "--seconds")
    interval_s = positive_seconds(args.interval, "--interval")
    channels = None if args.channels is None else count(args.channels, "--channels")
    source = source_option(args)
    return ReadOptions(source, seconds, interval_s, channels)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Read and print; `AnalyzerError` propagates to the CLI frame, which prints it in one line."""
    stream = out or sys.stdout
    try:
        options = parse_options(args)
    except OptionError as error:
        print(f"power-analyzer read: {error}", file=sys.stderr)
        return 2
    driver_options: dict[str, object] = dict(options.source.options)
    if options.channels is not None:
        driver_options["channels"] = options.channels
    source = options.source
    with create_analyzer(source.driver, source.device, **driver_options) as analyzer:
        analyzer.start(options.interval_s, mark="read")
        deadline = time.monotonic() + options.seconds
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                time.sleep(min(remaining, max(options.interval_s, _MIN_POLL_S)))
                _print_samples(analyzer.fetch(), stream)
        finally:
            if analyzer.running:
                analyzer.stop()
        _print_samples(analyzer.fetch(), stream)
        print(format_stats(analyzer.stats()), file=stream, flush=True)
    return 0


def format_samples(trace: Trace) -> list[str]:
    """One line per sample: `<UTC time> W <w> V <v> A <a> PF <pf> <flag>`, then `| chN ...` per channel."""
    if not len(trace):
        return []
    times = np.datetime_as_string(trace.time_ns.astype("datetime64[ns]").astype("datetime64[us]"), unit="us")
    lines = []
    for row in range(len(trace)):
        line = f"{times[row]}Z {_quantities(trace, row)} {_FLAG_WORDS.get(int(trace.flags[row]), 'flag?')}"
        for number, block in enumerate(trace.channels, start=1):
            line += (
                f" | ch{number} {_quantities(block, row)} {_FLAG_WORDS.get(int(block.flags[row]), 'flag?')}"
            )
        lines.append(line)
    return lines


def _quantities(columns: Trace | ChannelBlock, row: int) -> str:
    return f"W {columns.watts[row]:.6f} V {columns.volts[row]:.3f} A {columns.amps[row]:.4f} PF {columns.pf[row]:.4f}"


def _print_samples(trace: Trace, stream: TextIO) -> None:
    lines = format_samples(trace)
    if lines:
        stream.write("\n".join(lines) + "\n")
        stream.flush()


def format_stats(stats: MeasurementStats) -> str:
    line = (
        f"stats: {stats.samples} samples, {stats.errors} errors, {stats.valid} valid; "
        f"W avg {stats.avg_power_w:.6f} min {stats.min_power_w:.6f} max {stats.max_power_w:.6f}"
    )
    if not math.isnan(stats.uncertainty_avg):
        line += (
            f"; uncertainty avg {stats.uncertainty_avg:.4%} max {stats.uncertainty_max:.4%}, "
            f"{stats.uncertainty_invalid} above limit"
        )
    return line
