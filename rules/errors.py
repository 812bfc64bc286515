"""Errors a user sees as one sentence: the file (and line) that was unusable, and why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InputError(Exception):
    """A performance log, power log or folder that cannot be used; the message names file and line."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, int | None]]:
        # Rebuilt from its parts when it crosses to another process (a worker's check, a Dask task).
        return type(self), (self.path, self.reason, self.line)


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Around reading an input file: an OSError becomes the InputError that names it."""
    try:
        yield
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from exc
