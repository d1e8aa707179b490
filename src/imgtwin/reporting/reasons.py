"""Counting failures per reason code, for the line that ends a scan.

A run over a large collection can fail on thousands of files; the per-reason
counts ("truncated 6, decode_error 21") say at a glance what kind of trouble it
is, and ``imgtwin errors --reason R`` lists the files behind each count.
"""

from __future__ import annotations

from collections import Counter


def reason_of(error: str) -> str:
    """The reason code of an error as reporters receive it (``str(FileError)``: "reason: message")."""
    return error.split(":", 1)[0].strip()


def format_reason_counts(counts: Counter[str]) -> str:
    """``"Errors by reason: truncated 6, decode_error 2"``, most frequent first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "Errors by reason: " + ", ".join(f"{reason} {count}" for reason, count in ordered)
