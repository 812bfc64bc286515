"""The serial link over a real pty: a device that goes away mid-read is a lost connection, in one
sentence, whichever pyserial call notices it first."""

from __future__ import annotations

import os

import pytest

from analyzers.errors import AnalyzerConnectionError
from analyzers.serial_transport import SerialLink


@pytest.mark.parametrize("baudrate", [115_200, 3_686_400])  # a standard rate, and the LPM01A's custom one
def test_a_port_whose_device_went_away_is_a_lost_connection(baudrate: int) -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    link = SerialLink(name, baudrate=baudrate, timeout_s=0.5)
    os.write(master, b"12-34\n")
    assert link.read_available(0.5) == b"12-34\n"
    os.close(master)  # the board unplugged: pyserial's next reconfiguration of the port fails
    try:
        with pytest.raises(AnalyzerConnectionError, match=r"connection lost") as lost:
            link.read_available(0.05)
        assert str(lost.value).startswith(f"{name}: connection lost (")
        assert "\n" not in str(lost.value)
    finally:
        link.close()
        os.close(slave)


class _PortGoneWhileReconfiguring:
    """pyserial's port when the device vanishes between two of its ioctls: setting a read's timeout
    reapplies the settings, and a custom baud rate that no longer applies is a ValueError."""

    is_open = True

    @property
    def timeout(self) -> float:
        return 0.0

    @timeout.setter
    def timeout(self, _value: float) -> None:
        raise ValueError("Failed to set custom baud rate (3686400): [Errno 5] Input/output error")

    def close(self) -> None:
        pass


def test_a_port_that_can_no_longer_be_configured_is_a_lost_connection() -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    link = SerialLink(name, baudrate=3_686_400, timeout_s=0.5)
    link.close()
    os.close(master)
    os.close(slave)
    link._port = _PortGoneWhileReconfiguring()  # type: ignore[assignment]
    for read in (lambda: link.read_available(0.05), lambda: link.read_line(0.05)):
        with pytest.raises(AnalyzerConnectionError) as lost:
            read()
        assert str(lost.value) == (
            f"{name}: connection lost (Failed to set custom baud rate (3686400): [Errno 5] Input/output "
            "error) (check the cable or network link and that the instrument is still on)"
        )
