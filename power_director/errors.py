"""Errors the API turns into HTTP replies: each carries its status and one sentence for the client."""

from __future__ import annotations


class DirectorError(Exception):
    status_code = 500


class BadRequest(DirectorError):
    status_code = 400


class NotFound(DirectorError):
    status_code = 404


class Conflict(DirectorError):
    """The call does not fit the session's state (or another session is active)."""

    status_code = 409


class AnalyzerFailed(DirectorError):
    """An analyzer failed during the call; the session is failed, the director keeps serving."""

    status_code = 502


class AnalyzerUnavailable(DirectorError):
    """An analyzer could not be reached when a session was created."""

    status_code = 503


class StorageUnavailable(DirectorError):
    """The data directory cannot be written: checked before a session starts."""

    status_code = 503


class InsufficientStorage(DirectorError):
    """Too little free space in the data directory: checked before a session starts."""

    status_code = 507
