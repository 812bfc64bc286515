"""The files a session leaves: the MLPerf layout (`power/`, `ranging/`, `run_1/`) and what goes next to it."""
