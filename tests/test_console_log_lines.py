"""The PTD console log read from its bytes: lines as an editor shows them, stamps and tags per line.

The scan cuts lines at LF, CRLF and a lone CR and classifies them without a Python loop; it must say
what the old one-string-per-line reading said, whatever the line endings or the damage.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.compliance.console_log import read_console_log

_LINES = st.lists(
    st.sampled_from(
        [
            "03-03-2021 00:54:05.983: Go with mark 's_ranging'",
            "03-03-2021 00:54:06.001: ERROR: Bad watts reading nan from X",
            "03-03-2021 00:54:07.185: WARNING: Uncertainty 1.15% above 1.00% limit for the last measurement sample!",
            "03-03-2021 00:54:08.000: WARNING: something else",
            "03-03-2021 00:54:09.500: Completed test",
            "13-03-2021 00:54:09.500: ERROR: a month that does not exist",
            "03-03-2021 00:54:09.500 no colon",
            "not a stamped line",
            "",
            "03-03-2021 00:54:09.500: ",
            "Ünïcode ✓ line",
        ]
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_LINES, st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_lines_and_classes_match_a_line_by_line_reading(
    lines: list[str], ending: str, final_ending: bool
) -> None:
    content = ending.join(lines) + (ending if final_ending and lines else "")
    log = read_console_log("ptd_logs.txt", content.encode())
    expected = content.splitlines()
    assert [log.line(i) for i in range(log.line_count)] == expected
    stamped = [
        len(t) >= 25 and t[23:25] == ": " and not t.startswith("13-") and t[:2].isdigit() for t in expected
    ]
    assert log.stamped.tolist() == stamped
    assert log.errors.tolist() == [
        s and t[25:].startswith("ERROR:") for s, t in zip(stamped, expected, strict=True)
    ]
    assert log.uncertainty_above.tolist() == [
        s and "Uncertainty 1.15%" in t for s, t in zip(stamped, expected, strict=True)
    ]
    assert log.first_index("Completed test") == next(
        (i for i, t in enumerate(expected) if stamped[i] and t[25:] == "Completed test"), None
    )


def test_undecodable_bytes_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "ptd_logs.txt"
    path.write_bytes(
        b"03-03-2021 00:54:06.001: ERROR: \xff\xfe bad\r\n03-03-2021 00:54:09.500: Completed test\r\n"
    )
    log = read_console_log(str(path))
    assert log.errors.tolist() == [True, False]
    assert "\ufffd" in log.quote(0) and log.quote(0).startswith(f"{path}:1: ")
    assert log.phase_ns("s", "ranging") is None and log.first_index("Completed test") == 1
