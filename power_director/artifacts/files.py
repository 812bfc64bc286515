"""A session folder as the API serves it: its files with sizes and SHA-1, one file, the whole as .tar.gz."""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from power_director.artifacts.sources import sha1_file


class UnsafePath(ValueError):
    """A requested path that is not a file inside the session folder."""


class InvalidPath(ValueError):
    """A requested path that no file can have (a NUL byte)."""


def regular_files(folder: Path) -> list[Path]:
    """The session's own files, sorted: regular files only. Symbolic links (to files or folders) are
    left out, wherever they point: a director serves what it wrote, never what a link leads to."""
    found = []
    for top, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if not os.path.islink(os.path.join(top, name))]
        found += [Path(top, name) for name in files if not os.path.islink(os.path.join(top, name))]
    return sorted(path for path in found if path.is_file())


def list_files(folder: Path) -> list[tuple[str, int, str]]:
    """(relative path, size in bytes, sha1) of every file, sorted by path."""
    return [
        (path.relative_to(folder).as_posix(), path.stat().st_size, sha1_file(path))
        for path in regular_files(folder)
    ]


def resolve_inside(folder: Path, relative: str) -> Path:
    """`folder/relative` if it is one of the session's own files (`regular_files`: no links, no `..`)."""
    if "\x00" in relative:
        raise InvalidPath(f"the file path {relative!r} holds a NUL byte")
    candidate = folder / relative
    if candidate not in regular_files(folder):
        raise UnsafePath(f"no file {relative!r} in this session")
    return candidate


def write_archive(folder: Path, top: str) -> Path:
    """The folder as a gzip'd tar whose entries start with `top/`, in a temporary file the caller deletes."""
    descriptor, name = tempfile.mkstemp(prefix=f"{top}-", suffix=".tar.gz")
    os.close(descriptor)
    with tarfile.open(name, "w:gz") as archive:
        for path in regular_files(folder):
            archive.add(path, arcname=f"{top}/{path.relative_to(folder).as_posix()}", recursive=False)
    return Path(name)
