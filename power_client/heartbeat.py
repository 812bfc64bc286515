"""A thread that tells the director, every few seconds, that this client is still there.

The director fails a session that has heard nothing from its client for `client_timeout_s` (60 s
by default): so a client killed with `kill -9`, or one whose machine went away, does not leave the
director blocked. Phases and workloads can be long and silent, so a beat goes out every
min(5 s, a quarter of the timeout), on a connection of its own, whatever the main thread is doing.
A refused beat (409: the session has ended, e.g. an analyzer failed) stops the beating and is kept
in `ended`, for the main thread to read.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from power_client.clock import Clock
from power_client.errors import ClientError, DirectorFailed
from power_client.session_client import DirectorClient

BEAT_EVERY_S = 5.0
log = logging.getLogger("power_client")


def beat_interval(client_timeout_s: float) -> float:
    return min(BEAT_EVERY_S, client_timeout_s / 4) if client_timeout_s > 0 else BEAT_EVERY_S


class Heartbeat:
    def __init__(
        self, director_url: str, token: str | None, clock: Clock, session_id: str, client_timeout_s: float
    ) -> None:
        self.interval_s = beat_interval(client_timeout_s)
        self.ended: str | None = None
        self.beats = 0
        self._session_id = session_id
        self._client = DirectorClient(director_url, token, clock, timeout_s=max(self.interval_s, 2.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, _kind: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        warned = False
        while not self._stop.wait(self.interval_s):
            try:
                self._client.heartbeat(self._session_id)
                self.beats += 1
            except DirectorFailed as error:  # the session ended on the director's side
                self.ended = str(error)
                log.warning("The director ended the session: %s", error)
                return
            except ClientError as error:  # unreachable for a moment: keep trying until the timeout
                if not warned:
                    log.warning("Heartbeat not delivered: %s", error)
                    warned = True
