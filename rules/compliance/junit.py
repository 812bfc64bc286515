"""JUnit XML of the compliance checks: one testsuite per result, one testcase per check (CI dashboards read it).

FAIL becomes a <failure>; WARN and INFO pass, with their sentence in <system-out>; an unusable input is
an <error>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from analyzers.formats.atomic import write_text_atomically
from rules.compliance.verdict import Check, Verdict


def write_junit(path: Path, suites: Sequence[tuple[str, list[Check] | None, str | None]]) -> None:
    """`suites`: (result path, its checks or None when not judged, the unusable-input sentence or None)."""
    root = ET.Element("testsuites", name="power-check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for name, checks, unusable in suites:
        suite = ET.SubElement(root, "testsuite", name=name)
        tests = failures = errors = 0
        if unusable is not None:
            case = ET.SubElement(suite, "testcase", classname=name, name="input")
            ET.SubElement(case, "error", message=unusable).text = unusable
            tests, errors = 1, 1
        for check in checks or []:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=name, name=check.id)
            if check.verdict is Verdict.FAIL:
                failures += 1
                ET.SubElement(case, "failure", message=check.message, type="FAIL").text = check.message
            elif check.verdict is not Verdict.PASS:
                ET.SubElement(case, "system-out").text = f"{check.verdict.value}: {check.message}"
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        totals["tests"] += tests
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    write_text_atomically(path, ET.tostring(root, encoding="unicode") + "\n")
