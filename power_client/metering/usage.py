"""The command line of `power-measure` and `power-calibrate`: parsed, or help, or one sentence.

Both parse by hand (their options include a command after `--` and repeated sources), raising
UsageError("help") for -h/--help and UsageError/SourceSpecError with the sentence for anything wrong.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from analyzers.source_spec import SourceSpecError
from power_client.errors import EXIT_USAGE


class UsageError(ValueError):
    """A command line these tools cannot use; the message is the sentence ("help" for -h/--help)."""


def parsed_or_exit_status(
    prog: str,
    usage: str,
    doc: str | None,
    parse: Callable[[Sequence[str]], dict[str, Any]],
    argv: Sequence[str],
) -> dict[str, Any] | int:
    """The parsed options; or, having printed the help (status 0) or the problem (status 2), that status."""
    try:
        return parse(argv)
    except UsageError as error:
        if str(error) == "help":
            with contextlib.suppress(BrokenPipeError):  # `power-measure --help | head`
                print(usage + "\n\n" + (doc or "").split("\n\n", 1)[1].strip(), flush=True)
            return 0
        print(f"{prog}: {error}\n{usage}", file=sys.stderr)
        return EXIT_USAGE
    except SourceSpecError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
