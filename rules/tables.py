"""`power-check --parquet FILE`: the results as tables a round loads into pandas or DuckDB in one call.

    FILE                    one row per result: every scalar of `--json` (nested objects flattened
                            as `a.b`), lists of sentences as list columns
    FILE stem + .checks     one row per compliance check: path, id, verdict, message, identity_only
    FILE stem + .runs       training: one row per run (time to train, energy, kept or dropped)
    FILE stem + .nodes      training: one row per node log of each run (its energy)
    FILE stem + .windows    tiny: one row per inference window

Every table is written, empty when no result has rows for it, so a script reads the same files
whatever the round holds; each table's rows carry `path`, the result they belong to.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from analyzers.formats.atomic import replace_atomically
from rules.result import json_safe

NESTED = ("checks", "runs", "windows")
"""`--json` keys holding lists of objects: they get their own tables instead of a column."""

CHECKS = pa.schema(
    [
        ("path", pa.string()),
        ("id", pa.string()),
        ("verdict", pa.string()),
        ("message", pa.string()),
        ("identity_only", pa.bool_()),
    ]
)
RUNS = pa.schema(
    [
        ("path", pa.string()),
        ("benchmark", pa.string()),
        ("run", pa.string()),
        ("ttt_s", pa.float64()),
        ("energy_kj", pa.float64()),
        ("uncertainty_kj", pa.float64()),
        ("converged", pa.bool_()),
        ("dropped", pa.bool_()),
        ("nodes", pa.int64()),
        ("switches", pa.int64()),
        ("samples", pa.int64()),
    ]
)
NODES = pa.schema(
    [("path", pa.string()), ("run", pa.string()), ("node_log", pa.string()), ("energy_kj", pa.float64())]
)
WINDOWS = pa.schema(
    [
        ("path", pa.string()),
        ("window", pa.int64()),
        ("begin_s", pa.float64()),
        ("end_s", pa.float64()),
        ("samples", pa.int64()),
        ("energy_uj", pa.float64()),
        ("uj_per_inference", pa.float64()),
        ("uncertainty_uj", pa.float64()),
    ]
)


def table_paths(path: Path) -> dict[str, Path]:
    """Where each table goes: FILE itself, and its siblings named after it."""
    stem = path.name.removesuffix(".parquet")
    return {
        "results": path,
        **{name: path.with_name(f"{stem}.{name}.parquet") for name in ("checks", "runs", "nodes", "windows")},
    }


def write_tables(outcomes: Sequence[Any], path: Path) -> dict[str, Path]:
    """Write every table for `outcomes` (CheckResult or power-check's Unusable); returns their paths."""
    documents = [json_safe(outcome.to_json()) for outcome in outcomes]
    tables = {
        "results": _results(documents),
        "checks": pa.Table.from_pylist(_checks(documents), schema=CHECKS),
        "runs": pa.Table.from_pylist(_runs(outcomes), schema=RUNS),
        "nodes": pa.Table.from_pylist(_nodes(outcomes), schema=NODES),
        "windows": pa.Table.from_pylist(_windows(documents), schema=WINDOWS),
    }
    paths = table_paths(path)
    for name, table in tables.items():
        replace_atomically(paths[name], functools.partial(_write_table, table))
    return paths


def _write_table(table: pa.Table, temporary: Path) -> None:
    pq.write_table(table, temporary)


def _results(documents: list[dict[str, Any]]) -> pa.Table:
    rows = [_flat(document) for document in documents]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        try:
            arrays[column] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # One key, different types in different kinds (rare): kept, as text, rather than dropped.
            arrays[column] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if arrays else pa.table({"path": pa.array([], pa.string())})


def _flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if not prefix and key in NESTED:
            continue
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
            continue  # objects in a list belong to a table of their own
        else:
            flat[name] = value
    return flat


def _checks(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "path": d["path"],
            "identity_only": bool(c.get("identity_only", False)),
            **{k: c[k] for k in ("id", "verdict", "message")},
        }
        for d in documents
        for c in d.get("checks") or []
    ]


def _training(outcomes: Sequence[Any]) -> list[Any]:
    from rules.training.kind import TrainingResult

    return [o for o in outcomes if isinstance(o, TrainingResult)]


def _kj(joules: float | None) -> float | None:
    return None if joules is None else joules / 1000


def _runs(outcomes: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "path": result.path,
            "benchmark": result.scenario,
            "run": run.name,
            "ttt_s": run.ttt_s,
            "energy_kj": _kj(run.energy_j),
            "uncertainty_kj": _kj(run.uncertainty_j),
            "converged": run.converged,
            "dropped": run.dropped,
            "nodes": run.nodes,
            "switches": run.switches,
            "samples": run.samples,
        }
        for result in _training(outcomes)
        for run in result.runs
    ]


def _nodes(outcomes: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"path": result.path, "run": run.name, "node_log": log, "energy_kj": energy_j / 1000}
        for result in _training(outcomes)
        for run in result.runs
        for log, energy_j in zip(run.node_logs, run.node_energy_j, strict=False)
    ]


def _windows(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"path": d["path"], **{field: w.get(field) for field in WINDOWS.names if field != "path"}}
        for d in documents
        if d.get("kind") == "tiny"
        for w in d.get("windows") or []
    ]
