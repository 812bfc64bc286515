"""Power logs read into one reused buffer: no log sees another's bytes, whatever their sizes, whoever
still holds a view, on however many threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rules.errors import InputError
from rules.training.log_buffer import read_into_buffer
from rules.training.mllog import read_power_log
from rules.training.synthetic import marker_line, reading_lines

START_MS = 1_715_294_597_000


def _log(path: Path, readings: int, watts: int) -> Path:
    times = START_MS + 1000 * np.arange(1, readings + 1)
    text = (
        marker_line("power_measurement_start", START_MS)
        + "\n"
        + reading_lines(times, np.full(readings, watts))
        + marker_line("power_measurement_stop", int(times[-1]))
        + "\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_each_read_returns_exactly_its_file_through_growing_and_shrinking(tmp_path: Path) -> None:
    sizes = [5, 0, 300_000, 17, 300_001, 64, 1]
    for index, size in enumerate(sizes):
        content = bytes((index * 7 + k) % 251 for k in range(size))
        (tmp_path / f"f{index}").write_bytes(content)
    for index in range(len(sizes)):
        assert read_into_buffer(tmp_path / f"f{index}") == (tmp_path / f"f{index}").read_bytes()


def test_a_log_read_earlier_keeps_its_readings_after_the_buffer_is_reused(tmp_path: Path) -> None:
    first = read_power_log(_log(tmp_path / "node_0.txt", 200, 1234))
    second = read_power_log(_log(tmp_path / "node_1.txt", 150, 987))
    assert first.reading_watts.tolist() == [1234.0] * 200
    assert second.reading_watts.tolist() == [987.0] * 150
    assert first.reading_time_ns[-1] == (START_MS + 200_000) * 1_000_000


def test_a_view_still_held_gets_its_own_buffer_rather_than_new_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a" * 1000)
    (tmp_path / "b").write_bytes(b"b" * 10)
    held = np.frombuffer(read_into_buffer(tmp_path / "a"), dtype=np.uint8)  # the buffer cannot resize now
    assert read_into_buffer(tmp_path / "b") == b"b" * 10
    assert held.tobytes() == b"a" * 1000


def test_logs_read_on_threads_never_share_a_buffer(tmp_path: Path) -> None:
    paths = [_log(tmp_path / f"node_{k}.txt", 100 + 10 * k, 1000 + k) for k in range(16)]

    def watts(path: Path) -> list[float]:
        return read_power_log(path).reading_watts.tolist()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(watts, paths * 4))
    for index, result in enumerate(results):
        k = index % 16
        assert result == [1000.0 + k] * (100 + 10 * k)


def test_an_unreadable_log_is_one_sentence_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"node_9\.txt: cannot be read"):
        read_power_log(tmp_path / "node_9.txt")
