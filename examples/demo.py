"""Interim demo: `power-check` on the bundled real MLPerf power folders (replaced by the end-to-end demo)."""

from __future__ import annotations

import sys
from pathlib import Path

from rules.cli import main

BUNDLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "inference"

if __name__ == "__main__":
    sys.exit(main([str(BUNDLED)]))
