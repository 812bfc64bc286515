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
    """A failure the user can act on; `str(error)` is the sentence to print, `exit_code` the status."""

    exit_code = EXIT_DIRECTOR_FAILED


class UsageError(ClientError):
    exit_code = EXIT_USAGE


class DirectorUnreachable(ClientError):
    """No connection, or no answer in time."""

    exit_code = EXIT_DIRECTOR_UNREACHABLE


class DirectorRefused(ClientError):
    """HTTP 401/403: a missing or wrong token."""

    exit_code = EXIT_DIRECTOR_REFUSED


class DirectorFailed(ClientError):
    """The director answered, but with an error or a reply that does not fit the API."""

    exit_code = EXIT_DIRECTOR_FAILED


class ClockOutOfBounds(ClientError):
    exit_code = EXIT_CLOCK


class WorkloadFailed(ClientError):
    exit_code = EXIT_WORKLOAD_FAILED


class NoLoadgenLog(ClientError):
    exit_code = EXIT_NO_LOADGEN_LOG


class SessionFailed(ClientError):
    """The director failed the session during a run (an analyzer died or stalled)."""

    exit_code = EXIT_ANALYZER_FAILED


class NoOpenSession(ClientError):
    exit_code = EXIT_NO_OPEN_SESSION


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the client: what runs is ended, the session aborted, and the client
    exits 128 + the signal's number. A KeyboardInterrupt, so every `except Exception` lets it pass."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code
