"""`sources` and `modules` of `server.json`: which code wrote the result, by SHA-1 of our own files.

The reference lists its own package; ours lists the packages the director runs (`power_director`
and `analyzers`), paths relative to the directory that holds them. These are joulebench's checksums:
the MLPerf checker's allow-list of reference-tool checksums will not contain them, as it should not.
"""

from __future__ import annotations

import hashlib
import sys
from functools import lru_cache
from pathlib import Path

import analyzers
import power_director

_PACKAGES = (power_director, analyzers)


def sha1_file(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_root(package: object) -> Path:
    return Path(str(package.__file__)).resolve().parent  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def source_checksums() -> dict[str, str]:
    """`{"power_director/app.py": sha1, ...}` for every .py file of our packages, sorted."""
    sums: dict[str, str] = {}
    for package in _PACKAGES:
        root = _package_root(package)
        for path in sorted(root.rglob("*.py")):
            sums[path.relative_to(root.parent).as_posix()] = sha1_file(path)
    return dict(sorted(sums.items()))


def loaded_modules() -> dict[str, str]:
    """`{"power_director.app": "power_director/app.py", ...}`: our modules loaded in this process."""
    modules: dict[str, str] = {}
    roots = {package.__name__: _package_root(package) for package in _PACKAGES}
    for name, module in list(sys.modules.items()):
        top = name.split(".", 1)[0]
        location = getattr(module, "__file__", None)
        if top not in roots or not location:
            continue
        modules[name] = Path(location).resolve().relative_to(roots[top].parent).as_posix()
    return dict(sorted(modules.items()))
