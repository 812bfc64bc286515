"""`power-measure [--source S]... [--interval-ms N] [--output DIR] [--report DIR] [--json] -- CMD ...`

Runs CMD while sampling every source, and prints the energy of the whole command and of every
window the command named through the mark protocol (`JOULEBENCH_MARKS`, `power_client.marks`).
The table goes to stderr (stdout is the command's); `--json` prints the result document on stdout
after the command's own output; `--output DIR` writes it with the traces (`power-check DIR`
recomputes it); `--report DIR` writes an HTML page of the trace with the windows and marks over it
(and the folder into DIR/measurement unless `--output` names one). The exit status is the command's
(128 + N when a signal N ended it; 2 when it succeeded but the report could not be written).

`--certificate FILE` (a `power-calibrate` certificate) corrects the source it certifies: gain and
offset removed, the certificate's residual as that source's stated accuracy (docs/CALIBRATION.md).

Phones: `--logcat-begin REGEX` / `--logcat-end REGEX` begin and end the window the first group of a
matching line of `adb logcat` names (`--logcat-device SERIAL`, default the android source's device),
for apps that log their benchmarks (the MLPerf Mobile app): `power_client.metering.logcat`.

Signals: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are passed on to the command. A terminal's Ctrl-C
already reaches the command (it is in the terminal's foreground group with us), so SIGINT is passed
on only when we are not in a terminal's foreground (CI, a service manager), never twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from analyzers.errors import AnalyzerError
from analyzers.source_spec import SourceSpec, parse_source, source_from_aliases
from power_client.metering.logcat import LogcatMarks, LogcatPatternError, LogcatRule
from power_client.metering.marks import MARKS_ENV, MarkEvent, MarkReader
from power_client.metering.monitor import Monitor, MonitorError
from power_client.metering.usage import UsageError, parsed_or_exit_status
from rules.calibration.certificate import CertificateError, Correction, load_correction
from rules.measure.folder import COMMAND_WINDOW, FORMAT, write_measure_folder
from rules.measure.measurement import Measurement
from rules.measure.table import format_table
from rules.result import json_safe

EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
REPORT_DATA_DIR = "measurement"
_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)

USAGE = (
    "usage: power-measure [--source S]... [--interval-ms N] [--output DIR] [--report DIR] [--json]\n"
    "                     [--certificate FILE] [--logcat-begin REGEX] [--logcat-end REGEX] [--logcat-device SERIAL] -- CMD [ARG...]\n"
    "       power-measure attribute --profile PROFILE.json --power MEASURE_DIR [--report DIR] [...]  (energy per phase, operator)\n"
    "       power-measure tiny --source S --seconds N --inferences N --output DIR  (MLPerf Tiny, EnergyRunner folder)"
)


def parse_arguments(argv: Sequence[str]) -> dict[str, Any]:
    before_command = list(argv)[: list(argv).index("--")] if "--" in argv else list(argv)
    if "-h" in before_command or "--help" in before_command:
        raise UsageError("help")
    if "--" not in argv:
        raise UsageError("give the command to measure after --")
    split = list(argv).index("--")
    options, command = list(argv[:split]), list(argv[split + 1 :])
    if not command:
        raise UsageError("give the command to measure after --")
    parsed: dict[str, Any] = {
        "sources": [],
        "interval_ms": 100,
        "output": None,
        "report": None,
        "json": False,
        "logcat_rules": [],
        "logcat_device": None,
        "command": command,
    }
    driver = device = None
    certificates: list[str] = []
    i = 0
    while i < len(options):
        option = options[i]
        takes_value = option in (
            "--source",
            "--interval-ms",
            "--output",
            "--report",
            "--driver",
            "--device",
            "--logcat-begin",
            "--logcat-end",
            "--logcat-device",
            "--certificate",
        )
        if takes_value and i + 1 >= len(options):
            raise UsageError(f"{option} needs a value")
        value = options[i + 1] if takes_value else ""
        if option == "--source":
            parsed["sources"].append(parse_source(value))
        elif option == "--interval-ms":
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"--interval-ms must be a whole number of milliseconds >= 1, got {value!r}")
            parsed["interval_ms"] = int(value)
        elif option == "--output":
            parsed["output"] = Path(value)
        elif option == "--report":
            parsed["report"] = Path(value)
        elif option in ("--logcat-begin", "--logcat-end"):
            try:
                parsed["logcat_rules"].append(LogcatRule.of(option.removeprefix("--logcat-"), value))
            except LogcatPatternError as error:
                raise UsageError(str(error)) from None
        elif option == "--logcat-device":
            parsed["logcat_device"] = value
        elif option == "--certificate":
            certificates.append(value)
        elif option == "--driver":
            driver = value
        elif option == "--device":
            device = value
        elif option == "--json":
            parsed["json"] = True
        elif option in ("-h", "--help"):
            raise UsageError("help")
        else:
            raise UsageError(f"unknown option {option!r}")
        i += 2 if takes_value else 1
    if driver is not None or device is not None:
        parsed["sources"].append(source_from_aliases(driver, device))
    if not parsed["sources"]:
        parsed["sources"].append(parse_source("simulated"))
    for certificate in certificates:
        parsed["sources"] = _certified(parsed["sources"], certificate)
    if parsed["logcat_rules"] and parsed["logcat_device"] is None:
        phones = [spec.device for spec in parsed["sources"] if spec.driver == "android"]
        if not phones:
            raise UsageError("--logcat-begin/--logcat-end need an android source or --logcat-device SERIAL")
        parsed["logcat_device"] = phones[0]
    if parsed["report"] is not None and parsed["output"] is None:
        parsed["output"] = parsed["report"] / REPORT_DATA_DIR
    return parsed


def _certified(sources: list[SourceSpec], certificate: str) -> list[SourceSpec]:
    """The sources with `certificate=FILE` on the one the certificate calibrates."""
    problems = []
    for index, spec in enumerate(sources):
        try:
            load_correction(certificate, spec.label)
        except CertificateError as error:
            problems.append(str(error))
            continue
        options = {**spec.options, "certificate": certificate}
        return [*sources[:index], SourceSpec(spec.driver, spec.device, options), *sources[index + 1 :]]
    raise UsageError(f"--certificate: {problems[-1]} (sources: {', '.join(s.label for s in sources)})")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["attribute"]:
        from rules.measure.attribute_cli import main as attribute_main

        return attribute_main(arguments[1:])
    if arguments[:1] == ["tiny"]:
        from power_client.metering.tiny_cli import main as tiny_main

        return tiny_main(arguments[1:])
    options = parsed_or_exit_status("power-measure", USAGE, __doc__, parse_arguments, arguments)
    if isinstance(options, int):
        return options
    if options["report"] is not None:
        from rules.report.writer import ReportError, require_plotting

        try:
            require_plotting()  # before the command runs: a missing library is said now, not after it
        except ReportError as error:
            print(f"power-measure: {error}", file=sys.stderr)
            return EXIT_USAGE
    if options["logcat_rules"] and _adb(options) is None:
        print(
            "power-measure: --logcat-begin/--logcat-end: adb is not installed or not on PATH", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        monitor = Monitor(options["sources"], options["interval_ms"])
    except AnalyzerError as error:
        print(f"power-measure: {error}", file=sys.stderr)
        return EXIT_USAGE
    with monitor:
        return _run(monitor, options)


def _run(monitor: Monitor, options: dict[str, Any]) -> int:
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="joulebench-marks-") as folder:
        fifo = os.path.join(folder, "marks")
        os.mkfifo(fifo, 0o600)
        reader = MarkReader(fifo, lambda event: _on_mark(monitor, event, notes), notes.append)
        env = {**os.environ, MARKS_ENV: fifo}
        logcat = _logcat(options)
        monitor.begin_window(COMMAND_WINDOW)
        try:
            child = subprocess.Popen(options["command"], env=env)
        except FileNotFoundError:
            reader.close()
            print(f"power-measure: {options['command'][0]}: command not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        except PermissionError:
            reader.close()
            print(f"power-measure: {options['command'][0]}: not executable", file=sys.stderr)
            return EXIT_NOT_EXECUTABLE
        status = _wait_forwarding_signals(child)
        ended_ns = time.time_ns()
        reader.close()
    if logcat is not None:
        events, logcat_notes = logcat.close()
        notes += logcat_notes
        for event in sorted(events, key=lambda e: e.time_ns):
            _on_mark(monitor, event, notes)
    for name in monitor.open_windows():
        if name != COMMAND_WINDOW:
            notes.append(f"window {name!r} was never ended: it ends where the command exited")
            monitor.end_window(name, at_ns=ended_ns)
    monitor.end_window(COMMAND_WINDOW, wait=True, at_ns=ended_ns)
    windows = [monitor.measurement(name) for name in _in_order(monitor)]
    exit_status = 128 - status if status < 0 else status
    for source in monitor.sources:
        notes.extend(f"source {source.label}: {failure}" for failure in source.failures)
        if source.store.dropped_channel_chunks:
            notes.append(
                f"source {source.label}: its channel count changed during the run; "
                f"{source.store.dropped_channel_chunks} chunk(s) count in the total only"
            )
    document = json_safe(_document(monitor, options, windows, exit_status, notes))
    for line in format_table(windows) + [f"note: {note}" for note in notes]:
        print(line, file=sys.stderr)
    if options["output"] is not None:
        traces = list(monitor.traces().values())
        write_measure_folder(options["output"], json.loads(json.dumps(document, allow_nan=False)), traces)
        print(f"power-measure: wrote {options['output']} (power-check {options['output']})", file=sys.stderr)
    if options["report"] is not None and not _write_report(options["output"], options["report"]):
        exit_status = exit_status or EXIT_USAGE
    if options["json"]:
        print(json.dumps(document, indent=2, allow_nan=False))
    return exit_status


def _adb(options: dict[str, Any]) -> str | None:
    """The adb the android source uses (its `adb=` option), found on PATH; None when it is not there."""
    adb = next(
        (str(s.options["adb"]) for s in options["sources"] if s.driver == "android" and "adb" in s.options),
        "adb",
    )
    return shutil.which(adb)


def _logcat(options: dict[str, Any]) -> LogcatMarks | None:
    """The device log reader `--logcat-begin/--logcat-end` asked for (before the command starts)."""
    adb = _adb(options)
    if not options["logcat_rules"] or adb is None:
        return None
    return LogcatMarks(adb, options["logcat_device"], options["logcat_rules"])


def _write_report(folder: Path, directory: Path) -> bool:
    from rules.errors import InputError
    from rules.report.writer import ReportError, write_measure_report

    try:
        index, problems = write_measure_report(folder, directory)
    except (ReportError, InputError) as error:
        print(f"power-measure: {error}", file=sys.stderr)
        return False
    for problem in problems:
        print(f"power-measure: {problem}", file=sys.stderr)
    print(f"power-measure: report written to {index}", file=sys.stderr)
    return not problems


def _on_mark(monitor: Monitor, event: MarkEvent, notes: list[str]) -> None:
    try:
        if event.kind == "begin":
            monitor.begin_window(event.name, at_ns=event.time_ns)
        elif event.kind == "end":
            monitor.end_window(event.name, at_ns=event.time_ns)
        else:
            monitor.mark(event.name, at_ns=event.time_ns)
    except MonitorError as error:
        notes.append(f"mark '{event.kind} {event.name}': {error}")


def _wait_forwarding_signals(child: subprocess.Popen[bytes]) -> int:
    def forward(number: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(number)

    def forward_interrupt(number: int, frame: FrameType | None) -> None:
        if not _terminal_delivers_to_child():
            forward(number, frame)

    previous = {number: signal.signal(number, forward) for number in _FORWARDED}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, forward_interrupt)
    try:
        return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _terminal_delivers_to_child() -> bool:
    """True when we are the foreground process group of our terminal: its Ctrl-C reached the child too."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


def _in_order(monitor: Monitor) -> list[str]:
    names = monitor.ended_windows()
    return [COMMAND_WINDOW] + [name for name in names if name != COMMAND_WINDOW]


def _document(
    monitor: Monitor, options: dict[str, Any], windows: list[Measurement], exit_status: int, notes: list[str]
) -> dict[str, Any]:
    sources = []
    for source, spec in zip(monitor.sources, options["sources"], strict=True):
        identity = source.analyzer.identify()
        samples = source.samples()
        sources.append(
            {
                "label": source.label,
                "driver": spec.driver,
                "device": spec.device,
                "model": identity.model,
                "serial": identity.serial,
                "interval_ns": source.interval_ns,
                "shift_ns": samples.shift_ns,
                "clock_uncertainty_s": samples.clock_uncertainty_s,
                "counter_update_s": samples.counter_update_s,
                "energy_origin_ns": samples.total.energy_origin_ns,
                "failures": list(source.failures),
                **_correction_entry(source.correction),
            }
        )
    return {
        "format": FORMAT,
        "command": options["command"],
        "exit_status": exit_status,
        "interval_ms": options["interval_ms"],
        "sources": sources,
        "windows": [window.to_json() for window in windows],
        "marks": [{"time_ns": t, "label": label} for t, label in monitor.marks],
        "notes": notes,
    }


def _correction_entry(correction: Correction | None) -> dict[str, Any]:
    if correction is None:
        return {}
    return {
        "correction": {
            "certificate": correction.certificate,
            "gain": correction.gain,
            "offset_w": correction.offset_w,
            "relative_bound": correction.relative_bound,
        }
    }


if __name__ == "__main__":
    sys.exit(main())
