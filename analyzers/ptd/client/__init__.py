"""The PTD client side: talking to a PTDaemon (or ours) over TCP, as an `Analyzer`."""
