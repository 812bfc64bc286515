"""Errors the API turns into HTTP replies: each carries its status and one sentence for the client."""

from __future__ import annotations


class DirectorError(Exception):
    """A failure of the director itself; each kind names its HTTP status where it is declared."""

    status_code = 500

    def __init_subclass__(cls, status_code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code


class BadRequest(DirectorError, status_code=400):
    """A request whose values the director cannot use."""


class NotFound(DirectorError, status_code=404):
    """No such session, phase or artifact."""


class Conflict(DirectorError, status_code=409):
    """The call does not fit the session's state (or another session is active)."""


class AnalyzerFailed(DirectorError, status_code=502):
    """An analyzer failed during the call; the session is failed, the director keeps serving."""


class AnalyzerUnavailable(DirectorError, status_code=503):
    """An analyzer could not be reached when a session was created."""


class StorageUnavailable(DirectorError, status_code=503):
    """The data directory cannot be written: checked before a session starts."""


class InsufficientStorage(DirectorError, status_code=507):
    """Too little free space in the data directory: checked before a session starts."""
