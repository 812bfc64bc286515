"""What can end a client run, each with its own exit status, and a message that is one sentence."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # argparse's own status for a bad command line; also a bad option value or output folder
EXIT_DIRECTOR_UNREACHABLE = 3
EXIT_DIRECTOR_REFUSED = 4
EXIT_CLOCK = 5
EXIT_WORKLOAD_FAILED = 6
EXIT_NO_LOADGEN_LOG = 7
EXIT_DIRECTOR_FAILED = 8
EXIT_NO_OPEN_SESSION = 9  # `power-client abort`: the director has no open session to end
EXIT_ANALYZER_FAILED = 10  # the director failed the session while the workload ran (a meter died)
EXIT_INTERRUPTED = 130  # the shell's convention: 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class ClientError(Exception):
    """A failure the user can act on; `str(error)` is the sentence to print, `exit_code` the status.
    Each kind names its status where it is declared: `class X(ClientError, exit_code=EXIT_…)`."""

    exit_code = EXIT_DIRECTOR_FAILED

    def __init_subclass__(cls, exit_code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class UsageError(ClientError, exit_code=EXIT_USAGE):
    """A bad command line, option value or output folder."""


class DirectorUnreachable(ClientError, exit_code=EXIT_DIRECTOR_UNREACHABLE):
    """No connection, or no answer in time."""


class DirectorRefused(ClientError, exit_code=EXIT_DIRECTOR_REFUSED):
    """HTTP 401/403: a missing or wrong token."""


class DirectorFailed(ClientError, exit_code=EXIT_DIRECTOR_FAILED):
    """The director answered, but with an error or a reply that does not fit the API."""


class ClockOutOfBounds(ClientError, exit_code=EXIT_CLOCK):
    """This machine's clock is further from the director's than the run allows."""


class WorkloadFailed(ClientError, exit_code=EXIT_WORKLOAD_FAILED):
    """The workload could not start, or exited with a failure status."""


class NoLoadgenLog(ClientError, exit_code=EXIT_NO_LOADGEN_LOG):
    """The workload ran, but the LoadGen log it should leave is not there."""


class SessionFailed(ClientError, exit_code=EXIT_ANALYZER_FAILED):
    """The director failed the session during a run (an analyzer died or stalled)."""


class NoOpenSession(ClientError, exit_code=EXIT_NO_OPEN_SESSION):
    """`power-client abort`: the director has no open session to end."""


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the client: what runs is ended, the session aborted, and the client
    exits 128 + the signal's number. A KeyboardInterrupt, so every `except Exception` lets it pass."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code
