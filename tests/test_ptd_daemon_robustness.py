"""A bad or vanishing client never kills the daemon: it answers errors and serves the next client."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from test_ptd_daemon_support import PtdClient, running_daemon

from analyzers.ptd.wire import MAX_REQUEST_BYTES


def test_garbage_and_half_requests_get_error_replies(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1) as daemon, PtdClient(daemon.port) as client:
        assert client.cmd("\x00\xff garbage") == "Unknown command"
        assert client.cmd("") == "Unknown command"
        assert client.cmd("Go") == "Invalid number of parameters"
        assert client.cmd("Go,1000") == "Invalid number of parameters"
        assert client.cmd("Go,abc,0") == "Error: interval must be a whole number, got 'abc'"
        assert client.cmd("Go,0.5,0") == "Error: interval must be a whole number, got '0.5'"
        assert client.cmd("Go,-5,0") == "Error: interval must be a whole number, got '-5'"
        assert client.cmd("SR") == "Invalid number of parameters"
        assert client.cmd("SR,V") == "Invalid number of parameters"
        assert client.cmd("SR,V,-3") == "Error: range must be positive, got '-3'"
        assert client.cmd("SR,V,lots") == "Error: range must be a number or Auto, got 'lots'"
        assert client.cmd("SR,V,Auto,7") == "Invalid channel"
        assert client.cmd("RL,*,*") == "Invalid number of parameters"  # single-channel meter
        assert client.cmd("RL,x") == "Error: sample count must be a whole number, got 'x'"
        assert client.cmd("DC-RL") == "Unknown command"  # an AC meter
        assert client.cmd("Mark,x") == "Error: no measurement to mark"
        assert client.cmd("Stop") == "Error: no measurement to stop"
        assert client.cmd("Stop") == "Error: no measurement to stop"
        client.sock.sendall(b"A" * (MAX_REQUEST_BYTES * 3) + b"\r\n")
        assert client._line() == f"Error: request longer than {MAX_REQUEST_BYTES} bytes"
        assert client.cmd("Hello") == "Hello, PTDaemon here!"  # still in step with the client


def test_multi_channel_meter_rejects_bad_channels(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=3, first_channel=2) as daemon, PtdClient(daemon.port) as client:
        assert client.cmd("SR,A,Auto,1") == "Invalid channel"
        assert client.cmd("SR,A,Auto,5") == "Invalid channel"
        assert client.cmd("SR,A,Auto,4") == "Range A changed"
        assert client.cmd("RR,*").count(",") == 16  # sum channel + 3 channels, 4 fields each
        assert client.cmd("RL,*,1") == "Invalid channel"
        assert client.cmd("Go,1000,0,m").startswith("Starting untimed")
        assert client.cmd("SR,V,Auto") == "Meter busy"
        assert client.cmd("Go,1000,0,m") == "Error: a measurement is already running, send Stop first"
        assert client.cmd("Stop") == "Stopping untimed measurement"


def test_client_vanishing_mid_measurement_and_mid_rl(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=3, virtual=False) as daemon:
        # Gone mid-measurement: the daemon ends that measurement and waits for the next client.
        first = PtdClient(daemon.port)
        assert first.cmd("Go,10,0,left_behind").startswith("Starting untimed measurement")
        time.sleep(0.05)
        first.close()
        daemon.console.wait_for("Waiting for a connection...", count=1)
        # Gone mid-RL: ask for thousands of samples and hang up without reading them.
        second = PtdClient(daemon.port)
        assert second.cmd("Go,1,0,many").startswith("Starting untimed measurement")
        time.sleep(0.3)
        assert second.cmd("Stop") == "Stopping untimed measurement"
        second.sock.sendall(b"RL,*,*\r\n")
        second.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        second.close()  # RST while the daemon may still be writing
        daemon.console.wait_for("Waiting for a connection...", count=2)
        with PtdClient(daemon.port) as third:
            assert third.cmd("Hello") == "Hello, PTDaemon here!"
            assert third.cmd("Stop") == "Error: no measurement to stop"
            assert third.cmd("Go,10,0,third").startswith("Starting untimed measurement")
            time.sleep(0.1)
            assert third.cmd("Stop") == "Stopping untimed measurement"
            lines = third.request("RL,*,*")
            assert int(lines[0].split()[1]) == len(lines) - 1 >= 5
    messages = daemon.console.messages()
    assert "Client disconnected during a measurement; stopping it" in messages
    assert messages.count("Completed test") == 3


def test_ten_clients_in_turn(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, virtual=False) as daemon:
        for number in range(10):
            with PtdClient(daemon.port) as client:
                assert client.cmd("Hello") == "Hello, PTDaemon here!"
                assert client.cmd(f"Go,10,0,client{number}").startswith("Starting untimed")
                time.sleep(0.03)
                assert client.cmd("Stop") == "Stopping untimed measurement"
                lines = client.request("RL")
                assert len(lines) - 1 == int(lines[0].split()[1]) >= 1
                assert all(line.startswith("Time,") for line in lines[1:])
            daemon.console.wait_for("Waiting for a connection...", count=number + 1)
    assert daemon.console.messages().count("Completed test") == 10


def test_a_silent_client_is_let_go_after_the_idle_timeout_and_the_next_is_served(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, idle_timeout_s=1.0) as daemon:
        silent = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        silent.sendall(b"Hel")  # half a command, then nothing
        time.sleep(0.2)
        began = time.monotonic()
        with PtdClient(daemon.port, timeout_s=10) as waiting:
            assert waiting.cmd("Hello") == "Hello, PTDaemon here!"  # queued until the silent one went
            waited_s = time.monotonic() - began
            # A measurement has no idle limit: the reference director is silent from Go to Stop.
            assert waiting.cmd("Go,100,0,m").startswith("Starting untimed")
            time.sleep(1.6)
            assert waiting.cmd("Stop") == "Stopping untimed measurement"
        assert silent.recv(100) == b""  # the daemon closed it
        silent.close()
    assert 0.5 <= waited_s < 3.0
    assert "No request from the client for 1 s; disconnecting it" in daemon.console.getvalue()


def test_a_hundred_clients_at_once_are_all_served_in_turn(tmp_path: Path) -> None:
    results: list[str] = []

    def one(port: int) -> None:
        with PtdClient(port, timeout_s=30) as client:
            results.append(client.cmd("Hello"))

    with running_daemon(tmp_path, channels=1) as daemon:
        threads = [threading.Thread(target=one, args=(daemon.port,)) for _ in range(100)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        elapsed_s = time.monotonic() - began
    assert results == ["Hello, PTDaemon here!"] * 100
    assert elapsed_s < 20
