"""The files of one result folder, each opened once, whoever reads them.

The metric, the compliance checks and the checksum check all want the same few files (a sample log is
parsed for the mean, parsed again with every column for the ranges, and hashed). Here each file is
read into memory the first time anyone asks, and its bytes are what every parser and the sha1 see.
What a folder holds is listed once per subfolder (one directory read, no stat per file), and every
question of whether a file is there is answered from that listing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class ResultFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._content: dict[str, bytes] = {}
        self._sha1: dict[str, str] = {}
        self._paths: dict[str, Path] = {}
        self._listings: dict[str, dict[str, bool] | None] = {}

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
            digest = hashlib.sha1(self.read(relative)).hexdigest()
            self._sha1[relative] = digest
        return digest
