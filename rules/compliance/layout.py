"""Files and layout: the folders the MLPerf submission checker lists exactly (PTD_AND_MLPERF_POWER.md §4)."""

from __future__ import annotations

from analyzers.formats.mlperf_layout import (
    OPTIONAL_RUN_FILES,
    POWER_DIR,
    POWER_FILES,
    RANGING_DIR,
    REQUIRED_PATHS,
    RUN_FILES,
    TESTING_DIR,
)
from rules.compliance.verdict import Check, failed, passed
from rules.result_files import ResultFiles


def check_layout(files: ResultFiles) -> Check:
    """FAIL on a missing required file or on any extra entry (the submission checker rejects both)."""
    directory = files.directory
    missing = [path for path in REQUIRED_PATHS if not files.is_file(path)]
    extra: list[str] = []
    for folder, allowed in (
        (POWER_DIR, POWER_FILES),
        (RANGING_DIR, RUN_FILES + OPTIONAL_RUN_FILES),
        (TESTING_DIR, RUN_FILES + OPTIONAL_RUN_FILES),
    ):
        entries = files.listing(folder)
        if entries is not None:
            extra += sorted(f"{folder}/{name}" for name in entries if name not in allowed)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(
                f"not allowed there (the submission checker lists these folders exactly): {', '.join(extra)}"
            )
        return failed("files.layout", f"{directory}: " + "; ".join(parts))
    return passed(
        "files.layout",
        f"{directory}: power/, ranging/ and run_1/ hold exactly the required files",
    )
