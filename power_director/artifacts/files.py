"""A session folder as the API serves it: its files with sizes and SHA-1, one file, the whole as .tar.gz."""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from power_director.artifacts.sources import sha1_file


class UnsafePath(ValueError):
    """A requested path that is not a file inside the session folder."""


def list_files(folder: Path) -> list[tuple[str, int, str]]:
    """(relative path, size in bytes, sha1) of every file, sorted by path."""
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        entries.append((path.relative_to(folder).as_posix(), path.stat().st_size, sha1_file(path)))
    return entries


def resolve_inside(folder: Path, relative: str) -> Path:
    """`folder/relative` if it is an existing file inside `folder` (no `..`, no links out)."""
    root = folder.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise UnsafePath(f"no file {relative!r} in this session")
    return candidate


def write_archive(folder: Path, top: str) -> Path:
    """The folder as a gzip'd tar whose entries start with `top/`, in a temporary file the caller deletes."""
    descriptor, name = tempfile.mkstemp(prefix=f"{top}-", suffix=".tar.gz")
    os.close(descriptor)
    with tarfile.open(name, "w:gz") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.add(path, arcname=f"{top}/{path.relative_to(folder).as_posix()}", recursive=False)
    return Path(name)
