"""One inference power folder, each file read once and each parse kept for the metric and every check.

`power-check` used to let each consumer open what it needed: a ranging `spl.txt` four times, the
testing one three times, `server.json` three times. Here the first reader reads, and the metric, the
compliance checks and the checksum check share the bytes and the parsed records. A file that cannot be
read or parsed keeps its error, so each consumer still reports it in its own words.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from analyzers.formats.mlperf_layout import CONSOLE_LOG, DETAIL_LOG, POWER_DIR, SAMPLE_LOG, SERVER_JSON_NAME
from analyzers.formats.sample_decode import SplReadResult, read_spl
from analyzers.formats.sample_layout import SplFormatError
from rules.compliance.console_log import ConsoleLog, read_console_log
from rules.compliance.session_files import (
    SessionFileError,
    SessionRecord,
    load_session_json,
    session_record,
)
from rules.errors import InputError
from rules.inference.loadgen_log import LoadgenLog, read_loadgen_log
from rules.result_files import ResultFiles

T = TypeVar("T")
_KEPT_ERRORS = (InputError, SessionFileError, SplFormatError, OSError)


class InferenceFolder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = ResultFiles(directory)
        self._kept: dict[str, tuple[Any, BaseException | None]] = {}

    def loadgen_log(self, run: str) -> LoadgenLog:
        """`<run>/mlperf_log_detail.txt`; InputError if it is missing or unreadable."""
        relative = f"{run}/{DETAIL_LOG}"
        return self._once(relative, lambda: read_loadgen_log(self.files.path(relative), self._read(relative)))

    def samples(self, run: str, detail: bool) -> SplReadResult:
        """`<run>/spl.txt`, total watts only or every column; SplFormatError or OSError as read_spl's."""
        relative = f"{run}/{SAMPLE_LOG}"

        def parse() -> SplReadResult:
            # A sample log too large to hold is streamed by the parser itself (see ResultFiles).
            data = self.files.read(relative) if self.files.held(relative) else None
            return read_spl(self.files.path(relative), detail=detail, data=data)

        return self._once(f"{relative}:{detail}", parse)

    def metric_samples(self, run: str) -> SplReadResult:
        """What the MLPerf mean reads. In a folder that is judged (it has `power/`) the compliance checks
        parse every column of ranging's spl.txt anyway: that parse, when it dropped no line (then it
        keeps the very same samples), so the file is not parsed twice."""
        if self.files.listing(POWER_DIR) is not None:
            with contextlib.suppress(SplFormatError, OSError):  # the fast read below says why
                detailed = self.samples(run, detail=True)
                if not detailed.skipped:
                    return detailed
        return self.samples(run, detail=False)

    def session_json(self, name: str) -> dict[str, Any]:
        """`power/<name>` as a JSON object, whatever keys it holds; SessionFileError if it is none."""
        relative = f"{POWER_DIR}/{name}"
        path = self.files.path(relative)

        def load() -> dict[str, Any]:
            try:
                content = self.files.read(relative)
            except OSError as error:
                raise SessionFileError(f"{path}: cannot read: {error.strerror}") from None
            return load_session_json(path, content)

        return self._once(relative, load)

    def session_record(self, name: str) -> SessionRecord:
        """`power/client.json` or `power/server.json` as a record; SessionFileError naming what is wrong."""
        return self._once(
            f"record:{name}",
            lambda: session_record(self.files.path(f"{POWER_DIR}/{name}"), self.session_json(name)),
        )

    def console_log(self) -> ConsoleLog:
        return self._once(
            CONSOLE_LOG, lambda: read_console_log(str(self.files.path(CONSOLE_LOG)), self._read(CONSOLE_LOG))
        )

    def made_by_joulebench(self) -> bool:
        """server.json has joulebench's section (what the `joulebench` rule set is detected by)."""
        try:
            return isinstance(self.session_json(SERVER_JSON_NAME).get("joulebench"), dict)
        except SessionFileError:
            return False

    def _read(self, relative: str) -> bytes:
        try:
            return self.files.read(relative)
        except OSError as error:
            raise InputError(self.files.path(relative), f"cannot read: {error.strerror}") from None

    def _once(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._kept:
            try:
                self._kept[key] = (make(), None)
            except _KEPT_ERRORS as error:
                self._kept[key] = (None, error)
        value, failure = self._kept[key]
        if failure is not None:
            raise failure
        return value
