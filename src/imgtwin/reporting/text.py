"""File names as one printable line, whatever bytes they hold.

A name may contain newlines, tabs, escape sequences or bytes that are not
UTF-8; printed raw, it would split a listing line, move the terminal cursor or
fail to encode. Shown escaped, every listed file stays one line and copyable.
"""

from __future__ import annotations

import re

from imgtwin.persistence.rows import text_path

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with undecodable bytes and control characters backslash-escaped."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text_path(text))


def counted(count: int, noun: str) -> str:
    """``"1 error"``, ``"2 errors"``: a count with its noun in the right number (nouns that take an s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
