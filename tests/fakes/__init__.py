"""Fake instruments on real transports (a pty, a loopback TCP socket) for driver tests."""
