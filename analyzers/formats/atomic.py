"""Replace a file so that no reader ever sees half of it: write beside it, then rename over it.

Every file joulebench replaces goes through here: a phase's `spl.txt`, the Parquet traces,
`server.json`, the session record, a measure folder's `result.json`, the simulator's truth, reports
and tables. A crash leaves the old file or the new one, never a mix, and at most a hidden temporary
(`.<name>.<random>.tmp`) that the next write does not collide with.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file in `path`'s folder to fill; when the block ends it replaces `path` in one
    rename, and when the block raises it is removed and `path` is left as it was.

    The file gets the permissions a plain `open` would give it (mkstemp's 0600 would hide a report,
    a trace or a result from the people it is for)."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        os.fchmod(descriptor, 0o666 & ~_UMASK)
        os.close(descriptor)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """`write(temporary)` fills the temporary file that then replaces `path`."""
    with replacing(path) as temporary:
        write(temporary)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    with replacing(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomically(path: Path, text: str) -> None:
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
