"""MLPerf Inference power results: LoadGen logs + PTD sample logs -> W or J/mJ per query."""
