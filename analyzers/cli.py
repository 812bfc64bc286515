"""`power-analyzer`: talk to a power source directly (`read`) or serve it over the PTD protocol (`serve`).

Each subcommand lives in its own module exposing `register(subparsers)`; the module sets the parser's
`handler` default to a function taking the parsed arguments and returning an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from analyzers.errors import AnalyzerError

SUBCOMMAND_MODULES = ("analyzers.read_cli", "analyzers.ptd.daemon.serve_cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="power-analyzer",
        description=__doc__.splitlines()[0],
        epilog="Exit status: 0 done (serve: after SIGTERM/SIGINT), 2 a bad option or a device that "
        "cannot be used, 130 interrupted.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except AnalyzerError as error:
        print(f"power-analyzer: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
