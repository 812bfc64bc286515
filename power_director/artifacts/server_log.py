"""`power/server.log`: the director's log of one session, in the reference director's line format.

`power-director 2026-01-02 03:04:05,678 [INFO] <message>`: the reference writes `ptd-server` and its
local time; ours names itself and writes UTC, like every time the director records.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

LOGGER_NAME = "power-director"


class SessionLog:
    """A logger of its own per session (never registered globally), writing to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handler = logging.FileHandler(path, mode="a", encoding="utf-8")
        formatter = logging.Formatter("%(name)s %(asctime)s [%(levelname)s] %(message)s")
        formatter.converter = time.gmtime
        self._handler.setFormatter(formatter)
        self.logger = logging.Logger(LOGGER_NAME, logging.INFO)
        self.logger.addHandler(self._handler)
        self._closed = False

    def info(self, message: str) -> None:
        if not self._closed:
            self.logger.info(message)

    def warning(self, message: str) -> None:
        if not self._closed:
            self.logger.warning(message)

    def error(self, message: str) -> None:
        if not self._closed:
            self.logger.error(message)

    def close(self) -> None:
        """After this the log is final (its checksum goes into `server.json`); later lines are dropped."""
        if not self._closed:
            self._closed = True
            self.logger.removeHandler(self._handler)
            self._handler.close()
