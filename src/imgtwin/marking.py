"""Marking files "not duplicates", and forgetting it: what ``imgtwin mark``, the review app and the API share.

The files' contents are hashed from the disk as they are now (the index may
not have hashed a file, or may hold an older version of it), and the pairs
go into the index (``persistence.decisions``), where ``find`` reads them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from imgtwin.hashing.content import content_hash
from imgtwin.persistence.decisions import Pair, forget, pairs_among, record
from imgtwin.persistence.index import HashIndex


class MarkError(ValueError):
    """The files cannot be marked as given (one line for people)."""


def contents(paths: Sequence[str]) -> list[str]:
    """The content hash of each file, read now; MarkError for anything that is not a readable file."""
    digests = []
    for path in paths:
        if os.path.isdir(path):
            raise MarkError(f"{path} is a folder: name the files that are not duplicates")
        if not os.path.isfile(path):
            raise MarkError(f"no file {path}")
        try:
            digests.append(content_hash(path))
        except OSError as exc:
            raise MarkError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digests


def marked_pairs(paths: Sequence[str], only: Sequence[str] = ()) -> set[Pair]:
    """The content pairs that say ``paths`` are not duplicates of each other, or, with ``only`` (some of
    ``paths``), that set those files apart from the others, which stay duplicates of each other."""
    files = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    alone = list(dict.fromkeys(os.path.abspath(p) for p in only))
    if stray := [p for p, a in zip(only, alone) if a not in files]:
        raise MarkError(f"{stray[0]} is given with --only but is not one of the files")
    if len(files) < 2:
        raise MarkError("name at least two files: a decision is about files that are not duplicates of each other")
    if alone and len(alone) == len(files):
        alone = []  # every file set apart from every other: the whole set
    digests = dict(zip(files, contents(files)))
    return pairs_among([digests[f] for f in files], [digests[f] for f in alone])


def mark_not_duplicates(db_path: str, paths: Sequence[str], only: Sequence[str] = ()) -> tuple[int, int]:
    """Record that ``paths`` are not duplicates (``marked_pairs``); returns (pairs, of them new)."""
    pairs = marked_pairs(paths, only)
    with HashIndex(db_path) as index:
        return len(pairs), record(index.conn, sorted(pairs))


def forget_not_duplicates(db_path: str, paths: Sequence[str] | None, only: Sequence[str] = ()) -> int:
    """Forget the decisions about ``paths`` (``marked_pairs``; None: every decision); returns how many."""
    pairs = None if paths is None else sorted(marked_pairs(paths, only))
    with HashIndex(db_path) as index:
        return forget(index.conn, pairs)
