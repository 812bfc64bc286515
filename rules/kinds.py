"""The kinds of result `power-check` knows, and how a directory walk finds them.

A kind claims a directory when that directory is the root of one result of its kind; the walk asks
every kind about every directory. Adding a kind = one module with a `ResultKind` and one line here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rules.result import CheckResult

if TYPE_CHECKING:
    from rules.executor import Executor


class ResultKind(Protocol):
    name: str

    def claims(self, directory: Path) -> bool:
        """True when `directory` is the root of exactly one result of this kind."""
        ...

    def check(self, directory: Path, ruleset: str | None) -> CheckResult:
        """Compute the result; raise `rules.errors.InputError` when the input is unusable."""
        ...


@runtime_checkable
class SplitsAcrossWorkers(Protocol):
    """A kind whose one result can be spread over workers (training: its node logs)."""

    def using(self, executor: Executor) -> ResultKind:
        """This kind, reading the parts of a result on `executor`."""
        ...


def registered_kinds() -> list[ResultKind]:
    from rules.inference.kind import InferenceKind
    from rules.measure.kind import MeasureKind
    from rules.tiny.kind import TinyKind
    from rules.training.kind import TrainingKind

    return [InferenceKind(), TrainingKind(), TinyKind(), MeasureKind()]
