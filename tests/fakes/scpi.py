"""SCPI header matching as instruments do it: each node in its short or long form, any case.

`command("NUMeric:NORMal:ITEM#")` matches `:NUM:NORM:ITEM3` and `:numeric:normal:item12`; `#` is a
numeric suffix, captured. The short form of a node is its upper-case prefix.
"""

from __future__ import annotations

import re


def command(pattern: str) -> re.Pattern[str]:
    parts = []
    for node in pattern.strip(":").split(":"):
        query = node.endswith("?")
        name = node.rstrip("?")
        numbered = name.endswith("#")
        name = name.rstrip("#")
        short = "".join(ch for ch in name if ch.isupper() or ch.isdigit() or ch == "*")
        forms = {re.escape(short), re.escape(name.upper())}
        part = f"(?:{'|'.join(sorted(forms, key=len, reverse=True))})"
        if numbered:
            part += r"(\d+)"
        if query:
            part += r"\?"
        parts.append(part)
    return re.compile(r":?" + ":".join(parts) + r"(?:\s+(.*))?", re.IGNORECASE)
