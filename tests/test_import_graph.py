"""The import graph runs one way: compliance checks know nothing of the inference kind that uses them.

`rules/compliance` is shared by every kind (inference, training, tiny); an import of `rules.inference`
from it would make each kind load the others and, worse, let checks depend on one kind's parse.
Every import statement counts, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "rules"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", sorted((RULES / "compliance").glob("*.py")), ids=lambda p: p.name)
def test_no_compliance_module_imports_the_inference_kind(module: Path) -> None:
    upward = sorted(
        name for name in imported_modules(module) if name.split(".")[:2] == ["rules", "inference"]
    )
    assert upward == []


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def late():\n    from rules.inference.kind import InferenceKind\n")
    assert "rules.inference.kind" in imported_modules(probe)
