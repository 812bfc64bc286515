"""`power-calibrate --reference SOURCE --candidate SOURCE [--candidate ...] --idle SECONDS --load CMD
[--load CMD]... [--windows 5] [--window-s 60] [--tolerance 5] [--interval-ms 1000] [--no-rerun] --output DIR`

Records the reference and every candidate at once while the system idles for `--idle` seconds and
then runs each `--load` command (a shell command line), and judges each candidate by MLPerf
Training's rule for meters that are not SPEC-accepted (`rules.calibration`): per condition, each
meter's Olympic score over `--windows` non-overlapping windows of `--window-s`, within
`--tolerance` percent of the reference's. A load that ends before its windows are covered is run
again, back to back, until they are (`--no-rerun`: reported as too short instead).

Writes DIR/certificate.json, DIR/traces/*.parquet and DIR/certificate.html (the candidates over
the reference with the windows shaded; needs the `report` extra); exit 0 when every candidate passes, 1 when one
fails, 2 when the calibration could not be done (a source that does not open, a load that fails).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analyzers.errors import AnalyzerError
from analyzers.formats.atomic import write_text_atomically
from analyzers.source_spec import SourceSpec, parse_source
from power_client.metering.monitor import Monitor
from power_client.metering.usage import UsageError, parsed_or_exit_status
from rules.calibration.certificate import assess_candidate, certificate_document
from rules.calibration.conditions import Condition
from rules.calibration.flaws import from_driver_stats
from rules.result import json_safe

EXIT_FAIL = 1
EXIT_USAGE = 2
MAX_RUNS = 1000
USAGE = (
    "usage: power-calibrate --reference SOURCE --candidate SOURCE [--candidate SOURCE]... --idle SECONDS\n"
    "                       --load CMD [--load CMD]... [--windows N] [--window-s S] [--tolerance PERCENT]\n"
    "                       [--interval-ms N] [--no-rerun] --output DIR"
)


class LoadFailed(RuntimeError):
    pass


def _number(option: str, value: str, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{option} takes a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise UsageError(f"{option} must be at least {minimum:g}, got {value!r}")
    return number


def parse_arguments(argv: Sequence[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {
        "reference": None,
        "candidates": [],
        "idle_s": None,
        "loads": [],
        "windows": 5,
        "window_s": 60.0,
        "tolerance": 5.0,
        "interval_ms": 1000,
        "rerun": True,
        "output": None,
    }
    options = list(argv)
    i = 0
    while i < len(options):
        option = options[i]
        if option in ("-h", "--help"):
            raise UsageError("help")
        if option == "--no-rerun":
            parsed["rerun"] = False
            i += 1
            continue
        if i + 1 >= len(options):
            raise UsageError(
                f"{option} needs a value" if option.startswith("--") else f"unexpected {option!r}"
            )
        value = options[i + 1]
        if option == "--reference":
            parsed["reference"] = parse_source(value)
        elif option == "--candidate":
            parsed["candidates"].append(parse_source(value))
        elif option == "--idle":
            parsed["idle_s"] = _number(option, value, 0.0)
        elif option == "--load":
            parsed["loads"].append(value)
        elif option == "--windows":
            parsed["windows"] = int(_number(option, value, 1))
        elif option == "--window-s":
            parsed["window_s"] = _number(option, value, 0.1)
        elif option == "--tolerance":
            parsed["tolerance"] = _number(option, value, 0.0)
        elif option == "--interval-ms":
            parsed["interval_ms"] = int(_number(option, value, 1))
        elif option == "--output":
            parsed["output"] = Path(value)
        else:
            raise UsageError(f"unknown option {option!r}")
        i += 2
    for name, present in (
        ("--reference", parsed["reference"] is not None),
        ("--candidate", bool(parsed["candidates"])),
        ("--idle", parsed["idle_s"] is not None),
        ("--load", bool(parsed["loads"])),
        ("--output", parsed["output"] is not None),
    ):
        if not present:
            raise UsageError(f"{name} is required")
    needed = parsed["windows"] * parsed["window_s"]
    if parsed["idle_s"] < needed:
        raise UsageError(
            f"--idle {parsed['idle_s']:g} s is shorter than its {parsed['windows']} windows of "
            f"{parsed['window_s']:g} s ({needed:g} s)"
        )
    labels = [s.label for s in [parsed["reference"], *parsed["candidates"]]]
    if len(set(labels)) != len(labels):
        raise UsageError(f"a source is given twice ({', '.join(labels)})")
    return parsed


def _run_load(command: str, needed_s: float, rerun: bool, monitor: Monitor) -> Condition:
    """Run the load until it has covered `needed_s` (or once, with rerun off)."""
    begin = monitor.now_ns()
    runs = 0
    while True:
        runs += 1
        finished = subprocess.run(command, shell=True, check=False)  # the user's own command line
        if finished.returncode != 0:
            raise LoadFailed(f"load {command!r} failed with exit status {finished.returncode} (run {runs})")
        elapsed_s = (monitor.now_ns() - begin) / 1e9
        if elapsed_s >= needed_s or not rerun or runs >= MAX_RUNS:
            break
    return Condition(command, begin, monitor.now_ns())


def record(options: dict[str, Any], monitor: Monitor) -> list[Condition]:
    needed_s = options["windows"] * options["window_s"]
    begin = monitor.now_ns()
    print(f"power-calibrate: idle for {options['idle_s']:g} s", file=sys.stderr)
    time.sleep(options["idle_s"])
    conditions = [Condition("idle", begin, monitor.now_ns())]
    for command in options["loads"]:
        print(f"power-calibrate: load {command!r} (at least {needed_s:g} s)", file=sys.stderr)
        conditions.append(_run_load(command, needed_s, options["rerun"], monitor))
    # The samples spanning the last condition's end arrive one interval later.
    time.sleep(2 * options["interval_ms"] / 1000)
    return conditions


def main(argv: Sequence[str] | None = None) -> int:
    options = parsed_or_exit_status(
        "power-calibrate", USAGE, __doc__, parse_arguments, sys.argv[1:] if argv is None else argv
    )
    if isinstance(options, int):
        return options
    specs: list[SourceSpec] = [options["reference"], *options["candidates"]]
    try:
        monitor = Monitor(specs, options["interval_ms"])
    except AnalyzerError as error:
        print(f"power-calibrate: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with monitor:
            conditions = record(options, monitor)
            identities = [_identity(source.analyzer) for source in monitor.sources]
        extras = [source.analyzer.stats().extra for source in monitor.sources]
    except LoadFailed as error:
        print(f"power-calibrate: {error}; no certificate written", file=sys.stderr)
        return EXIT_USAGE
    traces = monitor.traces()
    labels = [source.label for source in monitor.sources]
    reference_label, candidate_labels = labels[0], labels[1:]
    try:
        candidates = [
            assess_candidate(
                label,
                traces[reference_label],
                traces[label],
                conditions,
                options["windows"],
                options["window_s"],
                options["tolerance"],
                from_driver_stats(extra),
            )
            for label, extra in zip(candidate_labels, extras[1:], strict=True)
        ]
    except ValueError as error:  # ConditionTooShort: a load shorter than its windows (--no-rerun)
        print(f"power-calibrate: {error}; no certificate written", file=sys.stderr)
        return EXIT_USAGE
    for candidate, identity in zip(candidates, identities[1:], strict=True):
        candidate["identity"] = identity
    settings = {
        key: options[key]
        for key in ("idle_s", "loads", "windows", "window_s", "tolerance", "interval_ms", "rerun")
    }
    document = certificate_document(reference_label, identities[0], candidates, conditions, settings)
    output: Path = options["output"]
    try:
        output.mkdir(parents=True, exist_ok=True)
        (output / "traces").mkdir(exist_ok=True)
        for index, label in enumerate(labels):
            traces[label].to_parquet(output / "traces" / f"{index:02d}-{_file_name(label)}.parquet")
        write_text_atomically(output / "certificate.json", json.dumps(json_safe(document), indent=2) + "\n")
    except OSError as error:
        print(f"power-calibrate: cannot write {output}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    _write_page(document, traces, output)
    for candidate in candidates:
        print(_summary_line(candidate), file=sys.stderr)
    print(
        f"power-calibrate: certificate {output / 'certificate.json'}: {document['verdict']}", file=sys.stderr
    )
    return 0 if document["verdict"] == "pass" else EXIT_FAIL


def _write_page(document: dict[str, Any], traces: dict[str, Any], output: Path) -> None:
    """The HTML page next to the certificate, when the plotting extra is installed (the certificate
    is the result; the page is its picture, so its absence is said, not fatal)."""
    from rules.report.writer import ReportError

    try:
        from rules.report.calibration_page import write_calibration_page

        write_calibration_page(document, traces, output)
    except ReportError as error:
        print(f"power-calibrate: no page: {error}", file=sys.stderr)


def _identity(analyzer: Any) -> dict[str, str]:
    try:
        identity = analyzer.identify()
    except AnalyzerError:
        return {}
    return {
        "model": identity.model,
        "serial": identity.serial,
        "firmware": identity.firmware,
        "vendor": identity.vendor,
    }


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _summary_line(candidate: dict[str, Any]) -> str:
    worst = max(candidate["conditions"], key=lambda c: abs(c["difference_percent"]))
    response = candidate["response"]
    fitted = (
        f"; gain {response['gain']:.4f}, offset {response['offset_w']:+.2f} W, lag {response['lag_s']:.1f} s, "
        f"averaging {response['averaging_s']:.1f} s"
        if response
        else ""
    )
    return (
        f"  {candidate['source']}: {candidate['verdict']} (worst condition {worst['name']!r}: "
        f"{worst['difference_percent']:+.2f} %){fitted}"
    )


if __name__ == "__main__":
    sys.exit(main())
