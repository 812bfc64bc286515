"""What a session tells `power/server.log`, every sentence in one place.

The reference director narrates each client command, each PTD exchange and each reply; reviewers
read that log beside `server.json`, so its wording is kept stable (a test compares a normal
session's log with a recorded one). `Session` and the range protocol call these methods; none of
them writes anywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analyzers.base import AUTO, RangeRequest
from power_director.artifacts.server_log import SessionLog
from power_director.merge import Alignment
from power_director.ptd_links import PtdLink
from power_director.ranging import RangeChoice


def range_text(value: RangeRequest) -> str:
    return "Auto" if value == AUTO else f"{value:.6f}"


class SessionNarration:
    def __init__(self, path: Path) -> None:
        self._log = SessionLog(path)
        self._ptd_logged: dict[str, int] = {}

    def close(self) -> None:
        """The log is final from here (its checksum goes into `server.json`)."""
        self._log.close()

    # -- the client ------------------------------------------------------------------------------

    def command(self, command: str) -> None:
        self._log.info(f"Got command from the client {command!r}")

    def reply(self, reply: str) -> None:
        self._log.info(f"Sending reply to client {reply!r}")

    def opened(self, session_id: str, client_uuid: str, server_uuid: str) -> None:
        self._log.info(f"Session {session_id}: client {client_uuid}, server {server_uuid}")

    # -- analyzers and samples -------------------------------------------------------------------

    def connected(self, name: str, endpoint: str) -> None:
        self._log.info(f"Connected to analyzer {name} ({endpoint})")

    def warning(self, sentence: str) -> None:
        """Something the session's records will lack or show, said when it starts."""
        self._log.warning(sentence)

    def recording(self, poll_interval_s: float, paths: Sequence[str]) -> None:
        self._log.info(f"Recording every {poll_interval_s:g} s into " + ", ".join(paths))

    def settling(self, settle_s: float, why: str) -> None:
        self._log.info(f"Waiting {settle_s:g} s for the analyzer to settle ({why})")

    def starting(self, mode: str) -> None:
        self._log.info(f"Starting {mode} mode")

    def wrote_samples(self, lines: int, folder: str, alignment: Sequence[Alignment]) -> None:
        self._log.info(f"Wrote {lines} sample lines to {folder}/spl.txt")
        for item in alignment[1:]:
            self._log.info(
                f"Analyzer {item.name} aligned with {item.matched} of {item.matched + item.missing} lines "
                f"(max error {item.max_abs_error_s * 1000:.3f} ms, {item.unused} of its samples unused)"
            )

    def ptd_exchanges(self, links: Sequence[PtdLink], *, refresh: bool = True) -> None:
        """Copy each link's new PTD exchanges (`refresh`: first collect a remote daemon's record)."""
        for link in links:
            if refresh:
                link.record()
            messages = link.ptd_messages()
            for message in messages[self._ptd_logged.get(link.name, 0) :]:
                self._log.info(f"Sending to ptd: {message['cmd']!r}")
                self._log.info(f"Reply from ptd: {message['reply']!r}")
            self._ptd_logged[link.name] = len(messages)

    # -- ranges ----------------------------------------------------------------------------------

    def initial_ranges(self, volts: RangeRequest, amps: RangeRequest) -> None:
        self._log.info(f"Initial range for Amps is {range_text(amps)} for Volts is {range_text(volts)}")

    def no_settable_ranges(self, name: str) -> None:
        self._log.info(f"Analyzer {name} has no settable ranges; ranges left as they are")

    def ranges_not_applicable(self, why: object) -> None:
        self._log.info(f"Ranges not applicable: {why}")

    def testing_ranges(self, name: str, volts: float, amps: float) -> None:
        self._log.info(f"Analyzer {name}: testing ranges {volts:.6f} V, {amps:.6f} A")

    def ranging_result(self, name: str, choice: RangeChoice, factor: float) -> None:
        self._log.info(
            f"Analyzer {name}: ranging max {choice.max_volts:.6f} V, {choice.max_amps:.6f} A "
            f"over {choice.samples} samples; testing ranges {choice.volts_range:.6f} V, "
            f"{choice.amps_range:.6f} A (x{factor:g})"
        )

    def restoring(self, name: str) -> None:
        self._log.info(f"Restoring the initial ranges of analyzer {name}")

    def restored(self, volts: RangeRequest, amps: RangeRequest) -> None:
        self._log.info(f"Set initial values for Amps {range_text(amps)} and Volts {range_text(volts)}")

    # -- endings ---------------------------------------------------------------------------------

    def done_during_run(self, mode: str) -> None:
        self._log.warning(f"done during the {mode} run: stopping it, its samples are kept")

    def failed(self, reason: str) -> None:
        self._log.error(reason)

    def problem(self, sentence: str) -> None:
        """Something that went wrong while a failed session was being wound down."""
        self._log.error(sentence)
