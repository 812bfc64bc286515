"""Compliance of a power result with a rule set: one module per family of checks, a runner, reports."""
