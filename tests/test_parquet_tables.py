"""`power-check --parquet FILE`: a round's results, checks, runs, nodes and windows as tables that
round-trip through pandas with the values `--json` gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent / "data"
TRAINING = DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora"
TINY = DATA / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy"
INFERENCE = DATA / "inference"


def test_the_tables_hold_what_json_says(tmp_path: Path) -> None:
    target = tmp_path / "round.parquet"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rules.cli",
            "--json",
            "--parquet",
            str(target),
            str(TRAINING),
            str(TINY),
            str(INFERENCE),
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2  # the missing path; the tables are still written
    documents = json.loads(done.stdout)
    results = pd.read_parquet(target)
    assert list(results["path"]) == [d["path"] for d in documents]
    for row, document in zip(results.to_dict("records"), documents, strict=True):
        for key in ("kind", "valid", "unit", "compliance_ruleset"):
            assert (row[key] if not pd.isna(row[key]) else None) == document.get(key), key
        if document["value"] is not None:
            assert row["value"] == document["value"]
        assert list(row["errors"]) == document["errors"]
    inference = results[results["kind"] == "inference"]
    assert inference["avg_power_w"].notna().all() and "sentinels.error" in results.columns
    checks = pd.read_parquet(tmp_path / "round.checks.parquet")
    assert len(checks) == sum(len(d.get("checks", [])) for d in documents)
    assert set(checks["verdict"]) <= {"PASS", "INFO", "WARN", "FAIL"}
    runs = pd.read_parquet(tmp_path / "round.runs.parquet")
    training = next(d for d in documents if d["kind"] == "training")
    assert list(runs["run"]) == [r["name"] for r in training["runs"]]
    assert list(runs["energy_kj"]) == pytest.approx([r["energy_kj"] for r in training["runs"]])
    assert list(runs["dropped"]) == [r["dropped"] for r in training["runs"]]
    nodes = pd.read_parquet(tmp_path / "round.nodes.parquet")
    assert list(nodes["node_log"].unique()) == ["node_0.txt"]
    # One node per run here: each run's node energy is the run's energy.
    assert nodes.groupby("run")["energy_kj"].sum().to_dict() == pytest.approx(
        dict(zip(runs["run"], runs["energy_kj"], strict=True))
    )
    windows = pd.read_parquet(tmp_path / "round.windows.parquet")
    tiny = next(d for d in documents if d["kind"] == "tiny")
    assert windows.drop(columns="path").to_dict("records") == tiny["windows"]


def test_every_table_is_written_even_when_empty(tmp_path: Path) -> None:
    target = tmp_path / "only-tiny.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--parquet", str(target), str(TINY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    runs = pd.read_parquet(tmp_path / "only-tiny.runs.parquet")
    assert len(runs) == 0 and "energy_kj" in runs.columns
    assert len(pd.read_parquet(tmp_path / "only-tiny.nodes.parquet")) == 0
    unwritable = subprocess.run(
        [
            sys.executable,
            "-m",
            "rules.cli",
            "--parquet",
            str(tmp_path / "no" / "such" / "t.parquet"),
            str(TINY),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unwritable.returncode == 2
    assert unwritable.stderr.strip().endswith(
        f"power-check: {tmp_path / 'no' / 'such' / 't.parquet'}: cannot write: No such file or directory"
    )
