"""The PTD client's record of its exchanges: what `server.json` lists, and what each exchange did.

Whoever keeps a record of a session reads it here, typed: the director's `ptd_messages`, its console
record of a remote daemon (which exchange started or ended a measurement) and its count of polls,
which it sets aside with `aside` rather than editing the list.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

from analyzers.ptd.client.replies import PtdMessage


class ExchangeRecord:
    """Every completed exchange with one daemon, in order. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._messages: list[PtdMessage] = []

    def __len__(self) -> int:
        return len(self._messages)

    def add(self, message: PtdMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def note_last(self, command: str, **what: Any) -> None:
        """What the last exchange (of `command`) did, known once its reply was checked."""
        with self._lock:
            if self._messages and self._messages[-1].cmd == command:
                self._messages[-1] = dataclasses.replace(self._messages[-1], **what)

    def last(self) -> PtdMessage | None:
        with self._lock:
            return self._messages[-1] if self._messages else None

    def exchanges(self) -> list[PtdMessage]:
        """The exchanges in order (a copy)."""
        with self._lock:
            return list(self._messages)

    def as_json(self) -> list[dict[str, str]]:
        """The exchanges in order, shaped as `server.json` `ptd_messages`."""
        with self._lock:
            return [message.as_json() for message in self._messages]

    @contextlib.contextmanager
    def aside(
        self, which: Callable[[PtdMessage], bool] = lambda _message: True
    ) -> Iterator[list[PtdMessage]]:
        """The exchanges made inside the block that `which` selects are kept out of the record and
        collected in the list the block gets (filled when it ends, however it ends)."""
        with self._lock:
            before = len(self._messages)
            taken: list[PtdMessage] = []
            try:
                yield taken
            finally:
                new = self._messages[before:]
                taken += [message for message in new if which(message)]
                self._messages[before:] = [message for message in new if not which(message)]
