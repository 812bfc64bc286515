"""Where `power-check` checks its folders: in this process, or across a pool of worker processes.

Folders are independent and each check is CPU-bound Python, so the only way to use more than one core
is more than one process. Both backends take the same task and the same items and give the outcomes
back in the items' order, so output does not depend on `-j`. A task that raises (or a worker that
dies) becomes the outcome `on_failure` makes of it: one sentence for that item, the walk goes on.
`DaskCluster` takes the same tasks past one machine: a `dask.distributed` scheduler's address, or a
cluster of this machine's cores started for the walk (`power-check --dask ADDRESS|local`).
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Generic, Protocol, TypeVar, cast

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Task = Callable[[Item], Outcome]
OnFailure = Callable[[Item, BaseException], Outcome]
_Produced = TypeVar("_Produced", covariant=True)


class _Result(Protocol[_Produced]):
    """What every backend's futures offer: a concurrent.futures.Future and a Dask future alike."""

    def result(self) -> _Produced: ...


Submit = Callable[[Item], _Result[Outcome]]


class Executor(ABC):
    """A backend: how one item is submitted, and how many may be in flight at once."""

    window = 1

    def run(
        self,
        task: Task[Item, Outcome],
        items: Iterable[Item],
        on_failure: OnFailure[Item, Outcome],
    ) -> Iterator[Outcome]:
        """task(item) for every item, in the items' order."""
        with self._submitting(task) as submit:
            yield from _in_order(submit, items, self.window, on_failure)

    @abstractmethod
    def _submitting(self, task: Task[Item, Outcome]) -> AbstractContextManager[Submit[Item, Outcome]]:
        """A context in which items can be submitted to `task`; leaving it releases the workers."""


class _Done(Generic[_Produced]):
    """An outcome computed on the spot, offered as a future; a raised error is raised by result()."""

    def __init__(self, compute: Callable[[], _Produced]) -> None:
        self._value: _Produced | None = None
        self._error: Exception | None = None
        try:
            self._value = compute()
        except Exception as error:  # a bug in one check must not end the walk
            self._error = error

    def result(self) -> _Produced:
        if self._error is not None:
            raise self._error
        return cast(_Produced, self._value)


class InProcess(Executor):
    @contextmanager
    def _submitting(self, task: Task[Item, Outcome]) -> Iterator[Submit[Item, Outcome]]:
        yield lambda item: _Done(lambda: task(item))


class ProcessPool(Executor):
    """`workers` processes; at most `window` items in flight, so a walk of a huge tree streams."""

    def __init__(self, workers: int, window_per_worker: int = 64) -> None:
        self.workers = workers
        self.window = workers * window_per_worker

    @contextmanager
    def _submitting(self, task: Task[Item, Outcome]) -> Iterator[Submit[Item, Outcome]]:
        # fork where the platform has it: workers start in milliseconds with every module already
        # imported (spawn would import numpy and pyarrow again in each).
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            yield lambda item: pool.submit(task, item)


def _in_order(
    submit: Submit[Item, Outcome],
    items: Iterable[Item],
    window: int,
    on_failure: OnFailure[Item, Outcome],
) -> Iterator[Outcome]:
    """Submit items with at most `window` in flight; yield their outcomes in the items' order."""
    pending: deque[tuple[Item, _Result[Outcome]]] = deque()
    for item in items:
        pending.append((item, submit(item)))
        if len(pending) >= window:
            yield _outcome(*pending.popleft(), on_failure)
    while pending:
        yield _outcome(*pending.popleft(), on_failure)


def _outcome(item: Item, future: _Result[Outcome], on_failure: OnFailure[Item, Outcome]) -> Outcome:
    try:
        return future.result()
    except (
        Exception
    ) as error:  # the task raised on its worker, or the worker died (BrokenProcessPool, KilledWorker)
        return on_failure(item, error)


class DaskUnavailable(Exception):
    """The Dask backend cannot run (no `distributed`, no scheduler at the address): one sentence."""


class DaskCluster(Executor):
    """Each item a Dask task; at most `window` in flight, outcomes in the items' order.

    `address` is a scheduler (`tcp://host:8786`) whose workers have this package installed and see
    the data at the same paths, or `local`: a cluster of this machine's cores, one single-threaded
    worker process each, on 127.0.0.1, for the walk only."""

    def __init__(self, address: str, window: int = 256) -> None:
        self.address = address
        self.window = window

    @contextmanager
    def _submitting(self, task: Task[Item, Outcome]) -> Iterator[Submit[Item, Outcome]]:
        client, cluster = self._connect()
        try:
            yield lambda item: client.submit(task, item, pure=False)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _connect(self) -> tuple[Any, Any]:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise DaskUnavailable(
                "--dask needs dask's distributed scheduler: pip install 'joulebench[dask]'"
            ) from None
        if self.address == "local":
            cluster = LocalCluster(
                n_workers=default_workers(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            return Client(cluster), cluster
        try:
            return Client(self.address, timeout=10), None
        except (OSError, TimeoutError) as error:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {self.address}: {error}") from None


def default_workers() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def executor_for(workers: int, dask: str | None = None) -> Executor:
    if dask:
        return DaskCluster(dask)
    return InProcess() if workers <= 1 else ProcessPool(workers)
