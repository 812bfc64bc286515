"""Where `power-check` checks its folders: in this process, or across a pool of worker processes.

Folders are independent and each check is CPU-bound Python, so the only way to use more than one core
is more than one process. Both backends take the same task and the same items and give the outcomes
back in the items' order, so output does not depend on `-j`. A task that raises (or a worker that
dies) becomes the outcome `on_failure` makes of it: one sentence for that item, the walk goes on.
A further backend (a Dask cluster, for checks larger than one machine) is one more class with `run`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Task = Callable[[Item], Outcome]
OnFailure = Callable[[Item, BaseException], Outcome]


class Executor(Protocol):
    def run(
        self,
        task: Task[Item, Outcome],
        items: Iterable[Item],
        on_failure: OnFailure[Item, Outcome],
    ) -> Iterator[Outcome]:
        """task(item) for every item, in the items' order."""
        ...


class InProcess:
    def run(
        self,
        task: Task[Item, Outcome],
        items: Iterable[Item],
        on_failure: OnFailure[Item, Outcome],
    ) -> Iterator[Outcome]:
        for item in items:
            try:
                yield task(item)
            except Exception as error:  # a bug in one check must not end the walk
                yield on_failure(item, error)


class ProcessPool:
    """`workers` processes; at most `window` items in flight, so a walk of a huge tree streams."""

    def __init__(self, workers: int, window_per_worker: int = 64) -> None:
        self.workers = workers
        self.window = workers * window_per_worker

    def run(
        self,
        task: Task[Item, Outcome],
        items: Iterable[Item],
        on_failure: OnFailure[Item, Outcome],
    ) -> Iterator[Outcome]:
        # fork where the platform has it: workers start in milliseconds with every module already
        # imported (spawn would import numpy and pyarrow again in each).
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            pending: deque[tuple[Item, Future[Outcome]]] = deque()
            for item in items:
                pending.append((item, pool.submit(task, item)))
                if len(pending) >= self.window:
                    yield _outcome(*pending.popleft(), on_failure)
            while pending:
                yield _outcome(*pending.popleft(), on_failure)


def _outcome(item: Item, future: Future[Outcome], on_failure: OnFailure[Item, Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as error:  # the task raised in the worker, or the worker died (BrokenProcessPool)
        return on_failure(item, error)


def default_workers() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def executor_for(workers: int) -> Executor:
    return InProcess() if workers <= 1 else ProcessPool(workers)
