"""CPU / DRAM energy through Linux powercap RAPL (`--driver rapl`).

Rooms: `zones` (finding zones, naming them, choosing ones that do not overlap), `counter` (reading
`energy_uj` wrap-safe, permission errors as sentences), `environment` (container / VM hints),
`analyzer` (the `Analyzer`).
"""

from analyzers.rapl.analyzer import ENV_ROOT, RaplAnalyzer

__all__ = ["ENV_ROOT", "RaplAnalyzer"]
