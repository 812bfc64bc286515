"""The director's API against hostile requests: links out of the data folder, NUL bytes, infinite
numbers, bodies without a token or without end. Each gets a 4xx with a sentence, never a 500, and
nothing outside the session folders is ever listed or served."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from test_director_session import run_session
from test_director_support import TOKEN, director_config, running_director

SIMULATED = {"name": "sim", "driver": "simulated"}
JSON = {"Content-Type": "application/json"}


def test_links_out_of_the_data_folder_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "power").mkdir(parents=True)
    (outside / "secret.txt").write_text("not for the director's clients")
    data = tmp_path / "data"
    (data / "sessions").mkdir(parents=True)
    planted = "2026-01-02_03-04-05_planted"
    (data / "sessions" / planted).symlink_to(outside, target_is_directory=True)
    with running_director(director_config(data, SIMULATED)) as running:
        session_id = run_session(running, "real")["session_id"]
        folder = data / "sessions" / session_id
        (folder / "passwd").symlink_to(outside / "secret.txt")  # a link inside a real session
        (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
        listed = [s["session_id"] for s in running.ok("GET", "/sessions")]  # type: ignore[union-attr]
        planted_files = running.get(f"/sessions/{planted}/files")
        planted_archive = running.get(f"/sessions/{planted}/archive")
        files = [f["path"] for f in running.ok("GET", f"/sessions/{session_id}/files")["files"]]
        through_link = running.get(f"/sessions/{session_id}/files/passwd")
        through_folder_link = running.get(f"/sessions/{session_id}/files/elsewhere/secret.txt")
        dotted = running.get(f"/sessions/{session_id}/files/power/..%2F..%2F..%2Foutside%2Fsecret.txt")
        archive = running.get(f"/sessions/{session_id}/archive").content
    assert planted not in listed and session_id in listed
    assert planted_files.status_code == 404 and planted_archive.status_code == 404
    assert "passwd" not in files and not any(path.startswith("elsewhere") for path in files)
    assert through_link.status_code == through_folder_link.status_code == dotted.status_code == 404
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
    assert names and not any("passwd" in name or "elsewhere" in name for name in names)


def test_bad_paths_and_numbers_get_a_sentence_not_a_500(tmp_path: Path) -> None:
    with running_director(director_config(tmp_path / "data", SIMULATED)) as running:
        session_id = running.create_session("hostile")["session_id"]
        nul = running.get(f"/sessions/{session_id}/files/power/server.log%00.txt")
        start = f"/v1/sessions/{session_id}/testing/start"
        headers = {"Authorization": f"Bearer {TOKEN}", **JSON}
        infinite = running.http.post(start, content=b'{"max_volts": 1e999, "max_amps": 2}', headers=headers)
        not_a_number = running.http.post(start, content=b'{"max_volts": NaN, "max_amps": 2}', headers=headers)
        huge = running.post(f"/sessions/{session_id}/training-export", {"result_index": 10**29})
        running.ok("POST", f"/sessions/{session_id}/abort", {"reason": "the test is over"})
    assert (
        nul.status_code == 400
        and nul.json()["detail"] == "the file path 'power/server.log\\x00.txt' holds a NUL byte"
    )
    for response in (infinite, not_a_number, huge):
        assert response.status_code == 422, response.text
    assert infinite.json()["detail"].startswith("invalid request: max_volts: ")
    assert huge.json()["detail"].startswith("invalid request: result_index: ")


def test_the_token_is_checked_before_any_body_is_read_and_bodies_are_bounded(tmp_path: Path) -> None:
    def endless() -> Iterator[bytes]:
        for _ in range(4096):
            yield b" " * 1024  # 4 MiB, chunked: no Content-Length to refuse up front

    with running_director(director_config(tmp_path / "data", SIMULATED)) as running:
        truncated = running.http.post("/v1/sessions", content=b'{"label": "x", "cli', headers=JSON)
        big = running.http.post("/v1/sessions", content=b"x" * (64 << 20), headers=JSON)
        authorised = {"Authorization": f"Bearer {TOKEN}", **JSON}
        chunked = running.http.post("/v1/sessions", content=endless(), headers=authorised)
        declared = running.http.post("/v1/sessions", content=b"x" * (2 << 20), headers=authorised)
        still_fine = running.create_session("after")
        sessions = running.ok("GET", "/sessions")
    assert truncated.status_code == 401 and big.status_code == 401
    assert (
        big.json()["detail"] == "this call needs the director's token: send 'Authorization: Bearer <token>'"
    )
    assert chunked.status_code == 413 and chunked.json() == {
        "detail": "the request body is over 1048576 bytes"
    }
    assert declared.status_code == 413  # refused from its Content-Length, before it is read
    assert [s["session_id"] for s in sessions] == [still_fine["session_id"]]  # type: ignore[index]
