"""`power-measure attribute --profile PROFILE.json --power MEASURE_DIR`: energy per phase and operator.

    power-measure attribute --profile trace.json --power out/job [--source LABEL] [--top N]
                            [--align-mark NAME | --offset-ns N] [--report DIR] [--json]

The power side is a `power-measure --output` folder; the profile, a Chrome trace (PyTorch's
`export_chrome_trace`). In Python: `rules.measure.attribute_cli.attribute_folder(...)`.
`--report DIR` also writes the folder's HTML page with the energy per phase and operator as bars.
Exit status: 0 done, 2 unusable input (one sentence naming the file) or a report not written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rules.errors import InputError
from rules.measure.attribution import Attribution, EnergyShare, attribute
from rules.measure.chrome_trace import read_chrome_trace
from rules.measure.folder import COMMAND_WINDOW, read_measure_folder

USAGE = (
    "usage: power-measure attribute --profile PROFILE.json --power MEASURE_DIR [--source LABEL] [--top N] "
    "[--align-mark NAME | --offset-ns N] [--report DIR] [--json]"
)


def attribute_folder(
    profile: Path,
    power: Path,
    source: str | None = None,
    align_mark: str | None = None,
    offset_ns: int | None = None,
) -> Attribution:
    """Attribute the energy a `power-measure` folder recorded to the events of a Chrome trace."""
    folder = read_measure_folder(power)
    samples = folder.samples()
    labels = [s.label for s in samples]
    chosen = next((s for s in samples if s.label == source), None) if source else samples[0]
    if chosen is None:
        raise InputError(power / "result.json", f"has no source {source!r}; its sources: {', '.join(labels)}")
    align = None
    if align_mark is not None:
        mark_ns = _mark_time(folder.document, align_mark)
        if mark_ns is None:
            raise InputError(power / "result.json", f"has no mark or window named {align_mark!r} to align on")
        align = (align_mark, mark_ns)
    events = read_chrome_trace(profile, offset_ns=offset_ns, align_to=align)
    windows = [(w.name, w.begin_ns, w.end_ns) for w in folder.windows if w.name != COMMAND_WINDOW]
    return attribute(events, chosen, windows)


def _mark_time(document: dict[str, Any], name: str) -> int | None:
    for mark in document.get("marks") or []:
        if isinstance(mark, dict) and mark.get("label") == name:
            return int(mark["time_ns"])
    for window in document.get("windows") or []:
        if isinstance(window, dict) and window.get("name") == name:
            return int(window["begin_ns"])
    return None


def format_attribution(result: Attribution, top: int) -> list[str]:
    lines = [f"source {result.source}, {result.interval_s:g} s samples; profile clock: {result.clock}"]
    if result.steps:
        energies = [s.energy_j for s in result.steps]
        lines.append(
            f"steps: {len(energies)}, {sum(energies) / len(energies):.4f} J per step on average "
            f"(min {min(energies):.4f}, max {max(energies):.4f})"
        )
        for step in result.steps[:top]:
            lines.append(
                f"  {step.name:<40} {step.energy_j:>10.4f} J {(step.end_ns - step.begin_ns) / 1e9:>9.3f}s"
            )
        if len(result.steps) > top:
            lines.append(f"  … {len(result.steps) - top} more steps (--top, or --json for all)")
    for title, shares in (
        ("phases (windows; nested ones overlap)", result.phases),
        ("operators (time share of each sample)", result.operators),
        ("operators fitted over the steps (power while running, 95 % interval)", result.fitted),
    ):
        if not shares:
            continue
        lines.append(f"{title}:")
        lines.append(f"  {'name':<40} {'energy':>12} {'share':>7} {'power':>10} {'time':>10} {'calls':>7}")
        lines.extend(_row(share) for share in shares[:top])
        if len(shares) > top:
            lines.append(f"  … {len(shares) - top} more (--top)")
    if result.idle_power_w is not None:
        lines.append(
            f"fitted idle power: {result.idle_power_w:.2f} W ± {result.idle_ci95_w or 0:.2g} W (95 %)"
        )
    lines.extend(f"note: {note}" for note in result.notes)
    return lines


def _row(share: EnergyShare) -> str:
    energy = f"{share.energy_j:.4f} J"
    if share.ci95_j is not None:
        energy += f" ± {share.ci95_j:.2g}"
    power = f"{share.avg_power_w:.2f} W" if share.time_s else ""
    calls = str(share.calls) if share.calls else ""
    return f"  {share.name[:40]:<40} {energy:>12} {share.share:>7.1%} {power:>10} {share.time_s:>9.3f}s {calls:>7}"


def main(argv: Sequence[str]) -> int:
    options: dict[str, str] = {}
    as_json = False
    arguments = list(argv)
    while arguments:
        option = arguments.pop(0)
        if option == "--json":
            as_json = True
        elif (
            option in ("--profile", "--power", "--source", "--top", "--align-mark", "--offset-ns", "--report")
            and arguments
        ):
            options[option] = arguments.pop(0)
        else:
            print(
                f"power-measure attribute: unknown or incomplete option {option!r}\n{USAGE}", file=sys.stderr
            )
            return 2
    missing = [name for name in ("--profile", "--power") if name not in options]
    if missing:
        print(f"power-measure attribute: give {' and '.join(missing)}\n{USAGE}", file=sys.stderr)
        return 2
    for name in ("--top", "--offset-ns"):
        if name in options and not options[name].lstrip("-").isdigit():
            print(
                f"power-measure attribute: {name} must be a whole number, got {options[name]!r}",
                file=sys.stderr,
            )
            return 2
    if "--align-mark" in options and "--offset-ns" in options:
        print("power-measure attribute: give --align-mark or --offset-ns, not both", file=sys.stderr)
        return 2
    try:
        result = attribute_folder(
            Path(options["--profile"]),
            Path(options["--power"]),
            options.get("--source"),
            options.get("--align-mark"),
            int(options["--offset-ns"]) if "--offset-ns" in options else None,
        )
    except InputError as error:
        print(f"power-measure attribute: {error}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print("\n".join(format_attribution(result, int(options.get("--top", "15")))))
    if "--report" in options:
        return _write_report(Path(options["--power"]), Path(options["--report"]), result)
    return 0


def _write_report(folder: Path, directory: Path, result: Attribution) -> int:
    from rules.report.writer import ReportError, write_measure_report

    try:
        index, problems = write_measure_report(folder, directory, result)
    except (ReportError, InputError) as error:
        print(f"power-measure attribute: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"power-measure attribute: {problem}", file=sys.stderr)
    print(f"power-measure attribute: report written to {index}", file=sys.stderr)
    return 2 if problems else 0
