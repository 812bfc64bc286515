"""Option values of the command-line tools, parsed in the handler rather than by argparse.

argparse's type errors print the whole usage text; a lab engineer who mistypes one number should get one
sentence naming the option and the value instead. Every function raises `OptionError` with that
sentence; the command prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import math

from analyzers.source_spec import SourceSpec, SourceSpecError, resolve_source


class OptionError(ValueError):
    """An option value a command cannot use; the message is the sentence shown to the user."""


def whole_number(text: str, option: str, minimum: int, maximum: int) -> int:
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise OptionError(f"{option} must be a whole number from {minimum} to {maximum}, got {text!r}")
    return int(text)


def count(text: str, option: str) -> int:
    """A whole number of at least 1, with no upper bound."""
    if not text.isdigit() or int(text) < 1:
        raise OptionError(f"{option} must be a whole number of at least 1, got {text!r}")
    return int(text)


def seconds(text: str, option: str) -> float:
    """A number of seconds, 0 or more (0 usually meaning never)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise OptionError(f"{option} must be a number of seconds, 0 or more, got {text!r}")
    return value


def positive_seconds(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise OptionError(f"{option} must be a positive number of seconds, got {text!r}")
    return value


def source_option(args: argparse.Namespace) -> SourceSpec:
    """The one source of a command made by `add_source_command`."""
    try:
        return resolve_source(args.source, args.driver, args.device)
    except SourceSpecError as error:
        raise OptionError(str(error)) from None
