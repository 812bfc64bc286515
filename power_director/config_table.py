"""Reading one TOML table of the director's configuration, so that every error names file and key.

A `ConfigTable` knows its dotted name (`session.settle_s`), records which keys were read, and
turns a wrong value into a `ConfigError`: one sentence naming the file and the key.
"""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A configuration problem; the message is the one sentence shown to the user."""


class ConfigTable:
    """A TOML table that knows its dotted name, so every error can name the key."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str) -> None:
        self.data = data
        self.where = where
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: key '{self.key(name)}' {problem}.")

    def get(self, name: str) -> Any:
        self.used.add(name)
        return self.data.get(name)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {value!r}")
        return value

    def whole(self, name: str, default: int | None, minimum: int, maximum: int) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(name, f"must be a whole number from {minimum} to {maximum}, got {value!r}")
        return value

    def number(self, name: str, default: float | None, minimum: float, above: bool = False) -> float | None:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(name, f"must be a number, got {value!r}")
        if value < minimum or (above and value == minimum):
            bound = "above" if above else "at least"
            raise self.fail(name, f"must be {bound} {minimum:g}, got {value!r}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        return value

    def channels(self, name: str) -> tuple[int, ...] | None:
        value = self.get(name)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not 1 <= len(value) <= 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
        ):
            raise self.fail(name, f"must be PTD's -c as a list: [channel] or [start, count], got {value!r}")
        return tuple(value)

    def table(self, name: str) -> ConfigTable | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(name, "must be a table")
        return ConfigTable(value, self.where, f"{self.key(name)}.")

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting")
