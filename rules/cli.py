"""`power-check PATH...`: the published power metric (and its evidence) of every result under PATH,
with the compliance checks of its rule set.

Exit status: 2 if any input was unusable, else 1 if any result is invalid or any check FAILed, else 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rules.compliance.junit import write_junit
from rules.compliance.report import report_lines
from rules.errors import InputError
from rules.executor import DaskUnavailable, default_workers, executor_for
from rules.kinds import ResultKind, SplitsAcrossWorkers, registered_kinds
from rules.result import CSV_COLUMNS, CheckResult, json_safe
from rules.rulesets import UnknownRulesetError, all_rulesets, get_ruleset

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


@dataclass
class Unusable:
    """An input that yielded no result; `sentence` names the file (and line) and why."""

    path: str
    kind: str
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "value": None,
            "valid": False,
            "unusable": True,
            "errors": [self.sentence],
        }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="power-check",
        description="Compute MLPerf power results (W, J or mJ per query, kJ per training run, "
        "µJ per inference) from result folders; walks every PATH.",
        epilog="Exit status: 2 if any input was unusable (a rule set of another kind forced included), "
        "else 1 if any metric is invalid or any folder does not comply with its rule set, else 0.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="a result folder or any tree containing them"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON list, one object per result")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per result")
    parser.add_argument(
        "--ruleset", metavar="NAME", help="force a rule set (default: detected from the logs)"
    )
    parser.add_argument("--list-rulesets", action="store_true", help="print the rule sets, one per line")
    parser.add_argument("--junit", metavar="FILE", help="also write the compliance checks as JUnit XML")
    parser.add_argument(
        "--parquet",
        metavar="FILE",
        help="also write the results as Parquet tables: FILE (one row per result) and FILE's .checks, "
        ".runs, .nodes and .windows siblings",
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="also write an HTML report: DIR/index.html and one page per result with its plots "
        "(opens with no network; needs the report extra)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list passed compliance checks too (human output)"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=default_workers(),
        metavar="N",
        help="check folders in N processes (default: this machine's cores, here %(default)s; 1: in this one)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="check the folders on a Dask cluster: a scheduler's address (tcp://host:8786) whose workers "
        "see the same paths, or 'local' for one on this machine's cores (needs the dask extra)",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1 process, not {value}")
    return value


def walk(root: Path, kinds: Sequence[ResultKind]) -> Iterator[tuple[Path, ResultKind]]:
    """Every (directory, kind) under root where a kind claims the directory; claimed trees are not entered."""
    for directory, subdirectories, _files in os.walk(root):
        here = Path(directory)
        claimed = [kind for kind in kinds if kind.claims(here)]
        for kind in claimed:
            yield here, kind
        if claimed:
            subdirectories.clear()
        else:
            subdirectories.sort()


def check_paths(
    paths: Sequence[str], ruleset: str | None, jobs: int = 1, dask: str | None = None
) -> list[CheckResult | Unusable]:
    """Every result under `paths`, in walk order; `jobs` processes check the folders (1: this one), or
    the Dask cluster at `dask` (DaskUnavailable when it cannot be used)."""
    kinds = registered_kinds()
    found: list[Unusable | tuple[Path, ResultKind, str | None]] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            found.append(Unusable(raw, "", f"{raw}: no such file or directory"))
            continue
        before = len(found)
        found += [(directory, kind, ruleset) for directory, kind in walk(root, kinds)]
        if len(found) == before:
            found.append(Unusable(raw, "", f"{raw}: no power result found (expected e.g. run_1/spl.txt)"))
    folders = [entry for entry in found if not isinstance(entry, Unusable)]
    only_kind = folders[0][1] if len(folders) == 1 and (jobs > 1 or dask) else None
    if isinstance(only_kind, SplitsAcrossWorkers):
        # One folder whose kind splits (a training result's node logs): the workers take its parts,
        # and the folder itself is checked here.
        directory, _kind, forced = folders[0]
        folders = [(directory, only_kind.using(executor_for(jobs, dask)), forced)]
        executor = executor_for(1)
    else:
        executor = executor_for(jobs if len(folders) > 1 else 1, dask)
    checked = executor.run(_check_item, folders, _worker_failed)
    return [entry if isinstance(entry, Unusable) else next(checked) for entry in found]


def _check_item(item: tuple[Path, ResultKind, str | None]) -> CheckResult | Unusable:
    return _check_one(*item)


def _worker_failed(item: tuple[Path, ResultKind, str | None], error: BaseException) -> Unusable:
    directory, kind, _ruleset = item
    return Unusable(
        str(directory), kind.name, f"{directory}: the check stopped: {type(error).__name__}: {error}"
    )


def _check_one(directory: Path, kind: ResultKind, ruleset: str | None) -> CheckResult | Unusable:
    forced = get_ruleset(ruleset) if ruleset else None
    if forced is not None and forced.kind not in ("", kind.name):
        # A rule set of another kind judges nothing here; scoring under another one silently would lie.
        a = "an" if kind.name[:1] in "aeiou" else "a"
        return Unusable(
            str(directory),
            kind.name,
            f"{directory}: rule set {forced.name} is for {forced.kind} results, and this is {a} {kind.name} "
            f"result; give {a} {kind.name} rule set (power-check --list-rulesets), joulebench or joulebench-strict",
        )
    try:
        # Numerical trouble (an overflow, a mean of nothing) is a note on the result, not stderr noise.
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
            warnings.simplefilter("always")
            result = kind.check(directory, ruleset)
        for warning in {str(w.message) for w in caught}:
            result.notes.append(f"{directory}: numerical warning while computing the result: {warning}")
        return _valid_only_if_finite(result)
    except InputError as error:
        return Unusable(str(directory), kind.name, str(error))
    except (
        Exception
    ) as error:  # a bug must not end the walk or show a traceback; it is reported as a sentence
        return Unusable(str(directory), kind.name, f"{directory}: unexpected {type(error).__name__}: {error}")


def _valid_only_if_finite(result: CheckResult) -> CheckResult:
    """No result is VALID without a finite, positive metric, whatever its inputs held."""
    value = result.value
    if result.valid and (value is None or not math.isfinite(value) or value <= 0):
        result.valid = False
        result.errors.append(
            f"{result.path}: the metric is {value} {result.unit}, not a finite positive number: "
            "its logs hold non-finite or out-of-range values"
        )
    return result


def print_human(outcomes: Sequence[CheckResult | Unusable], verbose: bool = False) -> None:
    by_kind: dict[str, list[CheckResult]] = {}
    for outcome in outcomes:
        if isinstance(outcome, CheckResult):
            by_kind.setdefault(outcome.kind, []).append(outcome)
    for kind, results in by_kind.items():
        valid = sum(r.valid for r in results)
        judged = [r for r in results if r.compliant is not None]
        compliant = sum(bool(r.compliant) for r in judged)
        print(
            f"== {kind}: {len(results)} result(s), {valid} with a valid metric, {compliant} of {len(judged)} judged compliant"
        )
        for result in results:
            print(result.summary_line())
            for line in result.detail_lines():
                print(line)
            for note in result.notes:
                print(f"   note: {note}")
            for line in report_lines(result.checks, result.compliance_ruleset, verbose):
                print(line)
    for outcome in outcomes:
        if isinstance(outcome, Unusable):
            print(f"power-check: {outcome.sentence}", file=sys.stderr)


def print_csv(outcomes: Sequence[CheckResult | Unusable]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for outcome in outcomes:
        if isinstance(outcome, CheckResult):
            writer.writerow(outcome.csv_row())
        else:
            writer.writerow(
                {"path": outcome.path, "kind": outcome.kind, "valid": False, "errors": outcome.sentence}
            )


def exit_status(outcomes: Sequence[CheckResult | Unusable]) -> int:
    if any(isinstance(o, Unusable) for o in outcomes):
        return EXIT_UNUSABLE
    if any(not o.valid or o.compliant is False for o in outcomes if isinstance(o, CheckResult)):
        return EXIT_INVALID
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except BrokenPipeError:
        # The reader went away (`power-check ... | head`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.list_rulesets:
        for ruleset in all_rulesets():
            published = ruleset.published.isoformat() if ruleset.published else "-"
            print(f"{ruleset.name}\t{ruleset.kind or 'any'}\t{ruleset.round or '-'}\t{published}")
        return EXIT_OK
    if not args.paths:
        parser.error("give at least one PATH (or --list-rulesets)")
    if args.ruleset:
        try:
            get_ruleset(args.ruleset)
        except UnknownRulesetError as error:
            print(f"power-check: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
    if args.report:
        from rules.report.writer import ReportError, require_plotting

        try:
            require_plotting()  # before the walk: a missing library is said at once, not after minutes
        except ReportError as error:
            print(f"power-check: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
    try:
        outcomes = check_paths(args.paths, args.ruleset, args.jobs, args.dask)
    except DaskUnavailable as error:
        print(f"power-check: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        json.dump([json_safe(o.to_json()) for o in outcomes], sys.stdout, indent=2)
        sys.stdout.write("\n")
        for outcome in outcomes:
            if isinstance(outcome, Unusable):
                print(f"power-check: {outcome.sentence}", file=sys.stderr)
    elif args.csv:
        print_csv(outcomes)
        for outcome in outcomes:
            if isinstance(outcome, Unusable):
                print(f"power-check: {outcome.sentence}", file=sys.stderr)
    else:
        print_human(outcomes, args.verbose)
    if args.junit:
        try:
            write_junit(Path(args.junit), [_junit_suite(o) for o in outcomes])
        except OSError as error:
            print(f"power-check: {args.junit}: cannot write: {error.strerror}", file=sys.stderr)
            return EXIT_UNUSABLE
    if args.parquet:
        try:
            from rules.tables import write_tables

            write_tables(outcomes, Path(args.parquet))
        except OSError as error:
            print(f"power-check: {args.parquet}: cannot write: {error.strerror or error}", file=sys.stderr)
            return EXIT_UNUSABLE
    if args.report:
        return _write_report(outcomes, Path(args.report), args.jobs) or exit_status(outcomes)
    return exit_status(outcomes)


def _write_report(outcomes: Sequence[CheckResult | Unusable], directory: Path, jobs: int) -> int:
    """Write the report; EXIT_UNUSABLE when it or any page could not be written, else 0."""
    from rules.report.writer import ReportError, Unreported, write_report

    entries = [o if isinstance(o, CheckResult) else Unreported(o.path, o.kind, o.sentence) for o in outcomes]
    try:
        index, problems = write_report(entries, directory, jobs)
    except ReportError as error:
        print(f"power-check: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    for problem in problems:
        print(f"power-check: {problem}", file=sys.stderr)
    print(f"power-check: report written to {index}", file=sys.stderr)
    return EXIT_UNUSABLE if problems else 0


def _junit_suite(outcome: CheckResult | Unusable) -> tuple[str, Any, str | None]:
    if isinstance(outcome, Unusable):
        return outcome.path, None, outcome.sentence
    return outcome.path, outcome.checks, None


if __name__ == "__main__":
    sys.exit(main())
