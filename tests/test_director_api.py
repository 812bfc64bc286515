"""The HTTP API's edges: the token, the OpenAPI document, calls out of order, marks; and range derivation."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from test_director_support import TOKEN, director_config, running_director

from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, ChannelBlock, Trace
from power_director.ranging import RangeChoice, RangingError
from power_director.recorder import Tally

SIMULATED = {"name": "sim", "driver": "simulated"}


def test_token_is_required_except_for_time(tmp_path: Path) -> None:
    with running_director(director_config(tmp_path / "data", SIMULATED)) as running:
        session_id = running.create_session("auth")["session_id"]
        calls = [
            ("POST", "/sessions", {"label": "x", "client_uuid": str(uuid.uuid4())}),
            ("POST", f"/sessions/{session_id}/ranging/start", {}),
            ("POST", f"/sessions/{session_id}/ranging/stop", None),
            ("POST", f"/sessions/{session_id}/marks", {"name": "warmup", "event": "begin"}),
            ("POST", f"/sessions/{session_id}/heartbeat", None),
            ("POST", f"/sessions/{session_id}/abort", {"reason": "a test"}),
            ("POST", f"/sessions/{session_id}/done", None),
            ("GET", "/sessions", None),
            ("GET", f"/sessions/{session_id}", None),
            ("GET", f"/sessions/{session_id}/files", None),
            ("GET", f"/sessions/{session_id}/archive", None),
            ("GET", "/analyzers", None),
            ("POST", f"/sessions/{session_id}/training-export", {"mode": "testing"}),
        ]
        for token in (None, "wrong-token-0123456789", TOKEN + "x", TOKEN[:-1]):
            for method, path, body in calls:
                response = (
                    running.post(path, body, token=token)
                    if method == "POST"
                    else running.get(path, token=token)
                )
                assert response.status_code == 401, (token, method, path)
                assert response.headers["www-authenticate"] == "Bearer"
                expected = (
                    "wrong token"
                    if token
                    else "this call needs the director's token: send 'Authorization: Bearer <token>'"
                )
                assert response.json() == {"detail": expected}
        # Nothing happened to the session.
        assert running.ok("GET", f"/sessions/{session_id}")["state"] == "created"
        before = time.time_ns()
        clock = running.get("/time", token=None)
        after = time.time_ns()
        assert clock.status_code == 200
        assert before <= clock.json()["receive_ns"] <= clock.json()["transmit_ns"] <= after
        openapi = running.http.get("/openapi.json").json()
        running.ok("POST", f"/sessions/{session_id}/done")
    assert sorted(openapi["paths"]) == [
        "/v1/analyzers",
        "/v1/sessions",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/abort",
        "/v1/sessions/{session_id}/archive",
        "/v1/sessions/{session_id}/done",
        "/v1/sessions/{session_id}/files",
        "/v1/sessions/{session_id}/files/{path}",
        "/v1/sessions/{session_id}/heartbeat",
        "/v1/sessions/{session_id}/marks",
        "/v1/sessions/{session_id}/training-export",
        "/v1/sessions/{session_id}/{mode}/start",
        "/v1/sessions/{session_id}/{mode}/stop",
        "/v1/time",
    ]
    schemas = openapi["components"]["schemas"]
    assert {
        "SessionCreate",
        "SessionCreated",
        "PhaseStarted",
        "PhaseStopped",
        "SessionDone",
        "TimeReply",
    } <= set(schemas)


def test_calls_out_of_order_are_refused_in_one_sentence(tmp_path: Path) -> None:
    with running_director(director_config(tmp_path / "data", SIMULATED)) as running:
        bad_label = running.post("/sessions", {"label": "no spaces", "client_uuid": str(uuid.uuid4())})
        assert bad_label.status_code == 422
        assert bad_label.json()["detail"].startswith("invalid request: label: String should match pattern")
        handshake = running.post(
            "/sessions",
            {"label": "x", "client_uuid": str(uuid.uuid4()), "client_protocol": "mlcommons/power client v3"},
        )
        assert handshake.status_code == 400
        assert handshake.json()["detail"] == (
            "handshake failed: this director speaks 'joulebench/power client v1', the client 'mlcommons/power client v3'"
        )
        session_id = running.create_session("order")["session_id"]
        refusals = [
            (
                f"/sessions/{session_id}/ranging/stop",
                None,
                409,
                f"no ranging run to stop: session {session_id} is created",
            ),
            (
                f"/sessions/{session_id}/testing/start",
                {},
                409,
                "testing needs a ranging run first, or known ranges (max_volts and max_amps)",
            ),
            (
                f"/sessions/{session_id}/testing/start",
                {"max_volts": 230},
                400,
                "give both max_volts and max_amps, or neither",
            ),
            (
                f"/sessions/{session_id}/marks",
                {"name": "m", "event": "begin"},
                409,
                f"marks belong inside a ranging or testing run; session {session_id} is created",
            ),
            (
                "/sessions/2020-01-01_00-00-00_nope/done",
                None,
                404,
                "no session '2020-01-01_00-00-00_nope' on this director",
            ),
            (
                "/sessions",
                {"label": "second", "client_uuid": str(uuid.uuid4())},
                409,
                f"session {session_id} is still created; end it with: power-client abort --session {session_id}",
            ),
        ]
        for path, body, status, detail in refusals:
            response = running.post(path, body)
            assert (response.status_code, response.json()) == (status, {"detail": detail}), path
        running.ok("POST", f"/sessions/{session_id}/ranging/start", {})
        assert running.post(f"/sessions/{session_id}/ranging/start", {}).json() == {
            "detail": f"ranging starts from a new session; session {session_id} is ranging"
        }
        marks = [("warmup", "begin"), ("warmup", "end")]
        recorded = [
            running.ok("POST", f"/sessions/{session_id}/marks", {"name": n, "event": e}) for n, e in marks
        ]
        again = running.post(f"/sessions/{session_id}/marks", {"name": "warmup", "event": "end"})
        assert again.json() == {"detail": "mark 'warmup' has not begun in this ranging run"}
        # Files are served from inside the session folder only (this one exists, three levels up).
        (tmp_path / "secret").write_text("not for clients")
        outside = running.get(f"/sessions/{session_id}/files/..%2F..%2F..%2Fsecret")
        assert (outside.status_code, outside.json()) == (
            404,
            {"detail": "no file '../../../secret' in this session"},
        )
        # done during a run stops it and keeps its samples.
        time.sleep(0.5)
        running.ok("POST", f"/sessions/{session_id}/done")
        assert running.post(f"/sessions/{session_id}/done").json() == {
            "detail": f"session {session_id} is already done"
        }
    assert [r["exchange"]["cmd"] for r in recorded] == [
        f"session,{session_id},mark,warmup,begin",
        f"session,{session_id},mark,warmup,end",
    ]
    folder = tmp_path / "data" / "sessions" / session_id
    server = json.loads((folder / "power" / "server.json").read_text())
    assert [m["cmd"] for m in server["messages"]] == [
        "joulebench/power client v1",
        f"session,{session_id},start,ranging",
        f"session,{session_id},mark,warmup,begin",
        f"session,{session_id},mark,warmup,end",
        f"session,{session_id},done",
    ]
    assert [(m["name"], m["event"], m["mode"]) for m in server["joulebench"]["marks"]] == [
        ("warmup", "begin", "ranging"),
        ("warmup", "end", "ranging"),
    ]
    assert server["joulebench"]["marks"][0]["time_ns"] == recorded[0]["time_ns"]
    assert len(server["phases"]["ranging"]) == 4
    assert (folder / "ranging" / "spl.txt").read_text().count(f",Mark,{session_id}_ranging\n") >= 3
    assert [m["cmd"] for m in server["ptd_messages"]][-2:] == ["SR,V,Auto", "SR,A,Auto"]


# -- range derivation -------------------------------------------------------------------------------


def test_ranges_come_from_the_channels_and_skip_sentinels() -> None:
    nan = np.nan
    blocks = [
        ChannelBlock.from_columns(
            [100, 110, nan], volts=[230.5, 231.25, 999], amps=[0.5, 0.61, 99], flags=[0, 0, SAMPLE_ERROR]
        ),
        ChannelBlock.from_columns(
            [90, 95, 96], volts=[229.0, 232.75, 230.0], amps=[0.4, 0.45, 0.7], flags=[0, 0, 0]
        ),
    ]
    trace = Trace.from_columns([1, 2, 3], [190, 205, nan], flags=[0, 0, SAMPLE_ERROR], channels=blocks)
    assert _ranges(trace, 1.1) == RangeChoice(
        max_volts=232.75, max_amps=0.7, volts_range=232.75, amps_range=0.77, samples=3
    )
    single = Trace.from_columns(
        [1, 2, 3],
        [10, nan, 12],
        volts=[120.1, 500, 121.42],
        amps=[0.5, 9, 0.5181],
        flags=[0, SAMPLE_MISSED, 0],
    )
    # The 2021-22 reference used the maximum itself (factor 1.0): SR,A,0.518100 in the public fixture.
    assert _ranges(single, 1.0) == RangeChoice(121.42, 0.5181, 121.42, 0.5181, 3)
    assert _ranges(single, 1.1).amps_range == 0.56991


def _ranges(trace: Trace, amps_factor: float, chunk: int = 2) -> RangeChoice:
    """The ranges the recorder's tally keeps for `trace`, fed to it in chunks as the recorder does."""
    tally = Tally()
    for start in range(0, len(trace), chunk):
        tally.add(trace.take(np.arange(start, min(start + chunk, len(trace)))))
    return tally.ranges(amps_factor)


def test_ranging_without_readings_is_an_error() -> None:
    with pytest.raises(RangingError, match=r"^the ranging run produced no samples$"):
        Tally().ranges(1.1)
    errors = Trace.from_columns(
        [1, 2], [np.nan, np.nan], volts=[230, 230], amps=[1, 1], flags=[SAMPLE_ERROR, SAMPLE_MISSED]
    )
    with pytest.raises(
        RangingError, match=r"^none of the 2 ranging samples has a valid voltage and current reading$"
    ):
        _ranges(errors, 1.1)
