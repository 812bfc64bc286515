"""The SUT side of joulebench: clock offset to the director, phase control, the workload, the MLPerf folder.

Talks to the director over HTTP only; of `power_director` it imports nothing but the wire schemas in
`power_director.api`.
"""
