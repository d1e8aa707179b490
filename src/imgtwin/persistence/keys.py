"""How a path becomes the index's key, and back.

Rows are keyed by the bytes of the absolute path (``os.fsencode``): exact for
every name a POSIX file system can hold, including names that are not valid
UTF-8. In Python a path stays a ``str`` (undecodable bytes as lone surrogates,
as ``os`` functions return them), so a key turns back into the very path the
file system gave, and text for people is made only when printing or exporting.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

SEP = os.fsencode(os.sep)


def path_key(path: str) -> bytes:
    """The key of ``path`` (made absolute)."""
    return os.fsencode(os.path.abspath(path))


def key_path(key: bytes | str) -> str:
    """The path a key stands for (``str``, as ``os`` functions return paths)."""
    return os.fsdecode(key)


def under_root_clause(roots: Sequence[str], column: str = "path") -> tuple[str, list[bytes]]:
    """SQL matching keys equal to or inside any root, using the primary key's order.

    Every key below ``root/`` sorts between ``root/`` and ``root`` followed by
    the byte after the separator (``/`` + 1 == ``0``): a range scan, not a LIKE.
    """
    clauses, params = [], []
    for root in roots:
        key = path_key(root)
        prefix = key if key.endswith(SEP) else key + SEP
        clauses.append(f"({column} = ? OR ({column} >= ? AND {column} < ?))")
        params += [key.rstrip(SEP) or SEP, prefix, prefix[:-1] + bytes([prefix[-1] + 1])]
    return "(" + " OR ".join(clauses) + ")", params
