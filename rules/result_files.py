"""The files of one result folder, each opened once, whoever reads them.

The metric, the compliance checks and the checksum check all want the same few files (a sample log is
parsed for the mean, parsed again with every column for the ranges, and hashed). Here each file is
read into memory the first time anyone asks, and its bytes are what every parser and the sha1 see.
What a folder holds is listed once per subfolder (one directory read, no stat per file), and every
question of whether a file is there is answered from that listing.

A file over `HELD_BYTES` (a sample log of days at a high rate) is not held: memory would grow with it.
Its readers stream it themselves, and it is opened once per reader (parse, hash) instead of once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HELD_BYTES = 64 << 20
_HASH_BLOCK = 16 << 20


class ResultFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._content: dict[str, bytes] = {}
        self._sha1: dict[str, str] = {}
        self._paths: dict[str, Path] = {}
        self._listings: dict[str, dict[str, bool] | None] = {}
        self._sizes: dict[str, int] = {}

    def path(self, relative: str) -> Path:
        path = self._paths.get(relative)
        if path is None:
            path = self._paths[relative] = self.directory / relative
        return path

    def listing(self, folder: str) -> dict[str, bool] | None:
        """Name -> is a file (following links) of every entry of a subfolder; None if it is no folder."""
        if folder not in self._listings:
            try:
                with os.scandir(self.directory / folder) as entries:
                    self._listings[folder] = {entry.name: entry.is_file() for entry in entries}
            except (NotADirectoryError, FileNotFoundError):
                self._listings[folder] = None
        return self._listings[folder]

    def is_file(self, relative: str) -> bool:
        folder, _, name = relative.rpartition("/")
        entries = self.listing(folder)
        return entries is not None and entries.get(name, False)

    def size(self, relative: str) -> int:
        size = self._sizes.get(relative)
        if size is None:
            size = self._sizes[relative] = self.path(relative).stat().st_size
        return size

    def held(self, relative: str) -> bool:
        """Whether the file is small enough to be read once and shared (else its readers stream it)."""
        return relative in self._content or self.size(relative) <= HELD_BYTES

    def last_byte(self, relative: str) -> bytes:
        """The file's last byte (b"" for an empty file), without reading a large one whole."""
        if self.held(relative):
            return self.read(relative)[-1:]
        with self.path(relative).open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1)

    def read(self, relative: str) -> bytes:
        """The file's bytes (read on the first call); OSError as the file system gives it."""
        content = self._content.get(relative)
        if content is None:
            content = self.path(relative).read_bytes()
            self._content[relative] = content
        return content

    def sha1(self, relative: str) -> str:
        digest = self._sha1.get(relative)
        if digest is None:
            if self.held(relative):
                digest = hashlib.sha1(self.read(relative)).hexdigest()
            else:
                hasher = hashlib.sha1()
                with self.path(relative).open("rb") as handle:
                    while block := handle.read(_HASH_BLOCK):
                        hasher.update(block)
                digest = hasher.hexdigest()
            self._sha1[relative] = digest
        return digest
