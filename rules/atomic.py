"""Replace a file so that no reader ever sees half of it: write beside it, then rename over it.

(The project has older copies of this in the director and the simulator; the formats issue folds
them into one. New writers in `rules/` use this one.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """`write(temporary)` fills a file in `path`'s folder, which then replaces `path` in one rename.

    The file gets the permissions a plain `open` would give it (mkstemp's 0600 would hide a report
    or a table from the people it is for); on any failure the temporary file is removed."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        os.fchmod(descriptor, 0o666 & ~_UMASK)
        os.close(descriptor)
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    def write(temporary: Path) -> None:
        temporary.write_text(text, encoding="utf-8")

    replace_atomically(path, write)
