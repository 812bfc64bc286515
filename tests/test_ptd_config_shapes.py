"""`ptd_config` in both shapes, and the origin marker.

The current reference director writes `ptd_config` as a list (one entry per analyzer) and its
checker iterates it; 2021-25 folders hold one object. `power-check` reads both. A folder is
joulebench's when its `server.json` has the `joulebench` section, whatever its handshake says.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rules.compliance.checksums import tool_of
from rules.compliance.policy import policy_for
from rules.compliance.ptd import check_device_type
from rules.compliance.session_files import read_session_record
from rules.compliance.verdict import Verdict
from rules.rulesets import get_ruleset

DATA = Path(__file__).resolve().parent / "data" / "inference" / "v2.0-nvidia-orin-resnet50-singlestream"
POLICY = policy_for(get_ruleset("mlperf-inference-v2.0"))


def _server(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "performance"
    shutil.copytree(DATA, folder)
    path = folder / "power" / "server.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_an_object_and_a_list_of_one_are_judged_alike(tmp_path: Path) -> None:
    as_object = read_session_record(DATA / "power" / "server.json")
    listed = read_session_record(_server(tmp_path, lambda d: d.update(ptd_config=[d["ptd_config"]])))
    assert as_object.ptd_configs == listed.ptd_configs and len(listed.ptd_configs) == 1
    object_check = check_device_type(as_object, POLICY)
    list_check = check_device_type(listed, POLICY)
    assert object_check.verdict == list_check.verdict == Verdict.PASS
    assert list_check.message.endswith("device type 52, channels [2]")


def test_every_analyzer_of_a_list_is_checked_and_the_failing_one_named(tmp_path: Path) -> None:
    def two(data: dict) -> None:  # type: ignore[type-arg]
        second = dict(data["ptd_config"], device_type=None)
        data["ptd_config"] = [data["ptd_config"], second]

    path = _server(tmp_path, two)
    check = check_device_type(read_session_record(path), POLICY)
    assert check.verdict == POLICY.verdict("unlisted_analyzer")
    assert check.message.startswith(f"{path} (analyzer 2): ptd_config records no PTD device type")


def test_a_missing_or_malformed_ptd_config_is_no_ptd_config(tmp_path: Path) -> None:
    path = _server(tmp_path, lambda d: d.update(ptd_config="52"))
    check = check_device_type(read_session_record(path), POLICY)
    assert check.message == f"{path}: no ptd_config recorded"


def test_the_origin_is_the_joulebench_section_not_the_handshake(tmp_path: Path) -> None:
    reference = read_session_record(DATA / "power" / "server.json")
    assert tool_of(reference) == "mlcommons/power"
    marked = read_session_record(_server(tmp_path, lambda d: d.update(joulebench={"state": "done"})))
    assert marked.handshake.startswith("mlcommons/power client")
    assert tool_of(marked) == "joulebench"
