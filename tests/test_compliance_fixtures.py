"""The three real inference folders judged by their own round, by today's rules and by joulebench-strict."""

from pathlib import Path

import pytest

from rules.compliance.verdict import Check, Verdict
from rules.inference.kind import InferenceKind

DATA = Path(__file__).parent / "data" / "inference"
KRAI = "v1.0-krai-rpi4-resnet50-singlestream"
A100 = "v1.0-nvidia-a100x8-resnet50-offline-3ch"
ORIN = "v2.0-nvidia-orin-resnet50-singlestream"


def _checks(name: str, ruleset: str | None = None) -> dict[str, Check]:
    result = InferenceKind().check(DATA / name, ruleset)
    assert result.checks is not None
    by_id = {check.id: check for check in result.checks}
    assert len(by_id) == len(result.checks), "check ids are unique"
    return by_id


def _ids(checks: dict[str, Check], verdict: Verdict) -> set[str]:
    return {check_id for check_id, check in checks.items() if check.verdict is verdict}


@pytest.mark.parametrize(
    ("name", "ruleset", "warned", "informed"),
    [
        (KRAI, "mlperf-inference-v1.0", {"ptd_log.uncertainty"}, {"ptd.uncertainty_summary"}),
        (A100, "mlperf-inference-v1.0", {"ptd_log.errors"}, {"ptd.uncertainty_summary"}),
        (
            ORIN,
            "mlperf-inference-v2.0",
            {"sources.client", "sources.server"},
            {"results.checksums", "ptd.uncertainty_summary"},
        ),
    ],
)
def test_each_fixture_passes_under_its_own_round(
    name: str, ruleset: str, warned: set[str], informed: set[str]
) -> None:
    result = InferenceKind().check(DATA / name, None)
    assert result.compliance_ruleset == ruleset
    assert result.compliant is True
    checks = _checks(name)
    assert _ids(checks, Verdict.FAIL) == set()
    assert _ids(checks, Verdict.WARN) == warned
    assert _ids(checks, Verdict.INFO) == informed
    assert len(checks) == 31


def test_krai_uncertainty_warnings_are_warnings_in_2021_and_failures_under_strict() -> None:
    v1 = _checks(KRAI)["ptd_log.uncertainty"]
    assert v1.verdict is Verdict.WARN
    # 652 lines between Go and Stop of testing; 604 of them more than 200 ms inside the LoadGen window.
    assert v1.message.startswith("604 uncertainty-above-limit warnings more than 200 ms inside")
    assert "(652 in the whole testing Go…Stop)" in v1.message
    assert "ptd_logs.txt:1414:" in v1.message
    strict = _checks(KRAI, "joulebench-strict")["ptd_log.uncertainty"]
    assert strict.verdict is Verdict.FAIL
    assert strict.message.startswith("603 uncertainty-above-limit warnings more than 800 ms inside")


def test_a100_loadgen_local_time_is_placed_with_timezone_minus_the_dst_hour() -> None:
    checks = _checks(A100)
    window = checks["timing.loadgen_window"]
    assert window.verdict is Verdict.PASS
    assert "timezone 28800 s − the 3600 s daylight-saving hour (UTC-7)" in window.message
    # The console log is on the same local clock: its 17 testing-phase warnings fall outside the window.
    assert checks["ptd_log.uncertainty"].message == (
        "no uncertainty-above-limit warning inside the LoadGen testing window (17 in the whole testing Go…Stop)"
    )
    errors = checks["ptd_log.errors"].message
    assert "2226 ERROR lines (2226 in ranging, 2223 of them the usual autorange ones)" in errors
    assert "Current appears to be too high" in errors
    assert checks["ptd.testing_ranges"].message.endswith(
        "206.37 V / 4.1225 A follow the ranging maxima (no autorange in testing)"
    )


def test_orin_crlf_checksums_are_line_endings_not_tampering() -> None:
    message = _checks(ORIN)["results.checksums"].message
    assert message.startswith(
        "ranging/spl.txt (recorded with CRLF line endings, LF here), run_1/spl.txt (recorded with CRLF line endings, LF here)"
    )
    assert "not a content change" in message


def test_orin_sources_are_on_the_cumulative_allow_list_from_v2_1() -> None:
    v2_0 = _checks(ORIN)["sources.client"]
    assert "first seen 2022-07-15, after this round's checker (2022-04-06)" in v2_0.message
    v2_1 = _checks(ORIN, "mlperf-inference-v2.1")["sources.client"]
    assert v2_1.verdict is Verdict.PASS
    assert v2_1.message.endswith("sources match the allow-list entry first seen 2022-07-15")
    # A later round keeps every earlier entry: the 2021 folders still match under today's rules.
    assert _checks(KRAI, "mlperf-inference-v5.1")["sources.server"].verdict is Verdict.PASS


@pytest.mark.parametrize(
    ("name", "failed"),
    [
        (KRAI, {"session.messages", "ptd.identity", "ptd_log.uncertainty"}),
        (A100, {"session.messages", "ptd.identity"}),
        (ORIN, {"ptd.identity"}),
    ],
)
def test_todays_rules_fail_exactly_where_the_rules_changed(name: str, failed: set[str]) -> None:
    checks = _checks(name, "mlperf-inference-v5.1")
    assert _ids(checks, Verdict.FAIL) == failed
    assert (
        "PTD version 1.9.2 is not allowed by mlperf-inference-v5.1 (allowed: 1.11.1)"
        in checks["ptd.identity"].message
    )
    if "session.messages" in failed:
        assert "mlperf-inference-v5.1 requires equal lists" in checks["session.messages"].message
    assert checks["timing.phases"].message.endswith("(limit 800 ms)")


def test_the_era_of_the_range_rule_follows_the_rule_set() -> None:
    # 2021 rounds accept only the exact ranging maximum; the same folder passes today's 1.0-or-1.1 rule.
    assert _checks(KRAI)["ptd.testing_ranges"].verdict is Verdict.PASS
    assert _checks(KRAI, "mlperf-inference-v5.1")["ptd.testing_ranges"].verdict is Verdict.PASS
    assert "2021–2022 (second Stop, no Uncertainty read)" in _checks(KRAI)["ptd.sequence"].message
