"""`power-measure tiny`: an MLPerf Tiny energy capture from a meter with a timestamp input.

    power-measure tiny --source joulescope:002557 --seconds 60 --inferences 10 --output energy/
    power-measure tiny --source lpm01a:/dev/ttyACM0,volts=1.8 --seconds 60 --inferences 10 --output energy/

Records for `--seconds` at `--interval` (1 ms by default, EnergyRunner's rate), with the meter's GPIO
edges (the device under test's timestamp pin) as events; writes the EnergyRunner folder `power-check`
reads (`analyzers.energy_runner_export`: for a meter EnergyRunner does not know, the bound of its
samples' stated accuracy goes into `log.txt`), and prints the median µJ per inference of the windows
the events delimit. Exit status: 0 a valid result, 1 a result the Tiny rules refuse (a window under
10 s, …), 2 a bad option, a source without a timestamp input, or too few events.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analyzers.energy_runner_export import write_energy_runner
from analyzers.errors import AnalyzerError
from analyzers.option_values import count, positive_seconds
from analyzers.registry import create_analyzer
from analyzers.source_spec import SourceSpecError, parse_source
from rules.tiny.kind import TinyKind

MARK = "tiny"
KNOWN_MONITORS = ("lpm01a",)
"""Meters whose accuracy the Tiny checker has from their published figures (rules/tiny/kind.py)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="power-measure tiny",
        description="Record an MLPerf Tiny energy run (an EnergyRunner folder) from a meter with a timestamp input.",
        epilog="Exit status: 0 a valid result, 1 refused by the Tiny rules, 2 a bad option or source.",
    )
    parser.add_argument(
        "--source", required=True, metavar="S", help="e.g. joulescope:SERIAL, lpm01a:/dev/ttyACM0"
    )
    parser.add_argument("--seconds", default="60", metavar="N", help="how long to record (default 60)")
    parser.add_argument("--interval", default="0.001", metavar="S", help="sample interval (default 0.001)")
    parser.add_argument("--inferences", required=True, metavar="N", help="inferences per window (iterInfer)")
    parser.add_argument("--output", required=True, metavar="DIR", help="the EnergyRunner folder to write")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except AnalyzerError as error:
        return _fail(str(error))


def _fail(message: str) -> int:
    print(f"power-measure tiny: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        seconds = positive_seconds(args.seconds, "--seconds")
        interval_s = positive_seconds(args.interval, "--interval")
        inferences = count(args.inferences, "--inferences")
        source = parse_source(args.source)
    except (ValueError, SourceSpecError) as error:
        return _fail(str(error))
    output = Path(args.output)
    if output.exists() and any(output.iterdir()):
        return _fail(f"{output} exists and is not empty; give a new folder")
    with create_analyzer(source.driver, source.device, **source.options) as meter:
        events_of = getattr(meter, "events", None)
        if not callable(events_of):
            return _fail(f"{source.label} has no timestamp input (GPIO events); use lpm01a or joulescope")
        meter.start(interval_s, MARK)
        try:
            time.sleep(seconds)
        finally:
            meter.stop()
        trace = meter.fetch()
        events = [event.time_ns for event in events_of()]
    if len(events) < 3:
        return _fail(
            f"{len(events)} timestamp event(s) in {seconds:g} s: a window needs a start mark and a pair"
        )
    valid = trace.valid_mask()
    volts = float(np.median(trace.volts[valid])) if valid.any() else math.nan
    stated = trace.uncertainty[valid & np.isfinite(trace.uncertainty)]
    accuracy = None if source.driver in KNOWN_MONITORS or not len(stated) else float(stated.max())
    write_energy_runner(
        output,
        trace,
        events,
        1 / interval_s,
        inferences,
        volts,
        monitor=source.driver,
        accuracy=accuracy,
    )
    result = TinyKind().check(output, None)
    for problem in result.errors:
        print(f"power-measure tiny: {problem}", file=sys.stderr)
    if result.uj_per_inference is None:
        return 1
    spread = "" if result.uncertainty is None else f" ± {result.uncertainty:.3f}"
    print(
        f"{result.uj_per_inference:.3f}{spread} uJ/inference over {len(result.windows)} window(s), in {output}"
    )
    return 0 if result.valid and result.compliant is not False else 1
