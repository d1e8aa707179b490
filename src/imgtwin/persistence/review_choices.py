"""A person's review of a group, kept in the index: the keeper they chose and the files they unticked.

Kept by content, as the "not duplicates" decisions are (``persistence.decisions``):
a chosen keeper is stored as its content hash *over* each other content of the
group, and holds again wherever that content is grouped with contents it was
chosen over, and only those: a moved or renamed file keeps the choice, a changed
file (new bytes) or a new member the person never saw drops it, back to the
automatic keeper. An unticked file is stored as its content hash. Paths are kept
beside the hashes only to tell byte copies apart (an exact group's members share
one content); where the path is gone, a content with one member still resolves.
Rows recorded under another content hash definition are ignored, never misread.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from imgtwin.hashing.content import CONTENT_HASH_ALGORITHM
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.keys import key_path, path_key
from imgtwin.persistence.schema import has_table
from imgtwin.persistence.sqlite import write_transaction


@dataclass(frozen=True, slots=True)
class Member:
    """A group member as a choice needs it: its content hash (None: not known, it carries no choice) and path."""

    content_hash: str | None
    path: str


@dataclass(frozen=True, slots=True)
class GroupChoice:
    """What a person chose in one group: the keeper's index (None: the automatic one) and the unticked members."""

    keeper: int | None = None
    excluded: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return self.keeper is None and not self.excluded


@dataclass(frozen=True, slots=True)
class StoredChoices:
    """Every stored choice of the current hash definition, read at once (people make few; groups are many)."""

    over: dict[str, dict[str, str]]  # keeper hash -> other hash -> the keeper's path when chosen
    excluded: dict[str, frozenset[str]]  # content hash -> paths unticked

    def resolve(self, members: Sequence[Member], automatic: int) -> GroupChoice:
        """The choice that holds for a group found now (``automatic``: the index of the keeper found)."""
        return GroupChoice(self._keeper(members, automatic), self._excluded(members))

    def _keeper(self, members: Sequence[Member], automatic: int) -> int | None:
        hashes = {m.content_hash for m in members}
        if None in hashes:
            return None
        chosen = [k for k in hashes if k is not None and hashes <= self.over.get(k, {}).keys()]
        if len(chosen) != 1:
            return None
        path = self.over[chosen[0]][chosen[0]]
        copies = [i for i, m in enumerate(members) if m.content_hash == chosen[0]]
        named = [i for i in copies if members[i].path == path]
        keeper = named[0] if named else automatic if automatic in copies else copies[0]
        return None if keeper == automatic else keeper

    def _excluded(self, members: Sequence[Member]) -> tuple[int, ...]:
        out = []
        for i, m in enumerate(members):
            paths = self.excluded.get(m.content_hash or "")
            if paths and (m.path in paths or sum(x.content_hash == m.content_hash for x in members) == 1):
                out.append(i)
        return tuple(out)


def stored_choices(conn: sqlite3.Connection) -> StoredChoices:
    """Every choice of the current content hash definition (none in an index that predates them)."""
    if not (has_table(conn, "chosen_keepers") and has_table(conn, "excluded_files")):
        return StoredChoices({}, {})
    over: dict[str, dict[str, str]] = {}
    for keeper, other, path in conn.execute("SELECT keeper_hash, other_hash, keeper_path FROM chosen_keepers "
                                            "WHERE algorithm = ?", (CONTENT_HASH_ALGORITHM,)):
        over.setdefault(str(keeper), {})[str(other)] = key_path(path)
    excluded: dict[str, set[str]] = {}
    for digest, path in conn.execute("SELECT content_hash, path FROM excluded_files WHERE algorithm = ?",
                                     (CONTENT_HASH_ALGORITHM,)):
        excluded.setdefault(str(digest), set()).add(key_path(path))
    return StoredChoices(over, {k: frozenset(v) for k, v in excluded.items()})


class ChoiceError(ValueError):
    """A choice that cannot be kept by content (one line for people)."""


def read_choices(db_path: str | None) -> StoredChoices | None:
    """The choices stored in the index at ``db_path``; None where there is no index or none is stored."""
    if not db_path or not os.path.isfile(db_path):
        return None
    with HashIndex(db_path, readonly=True) as index:
        stored = stored_choices(index.conn)
    return stored if stored.over or stored.excluded else None


def store_choice(conn: sqlite3.Connection, members: Sequence[Member], choice: GroupChoice,
                 now: float | None = None) -> None:
    """Replace what is stored about this group's contents by ``choice`` (empty: forget it). One transaction.

    ChoiceError where a member the choice names has no content hash (nothing to keep it by).
    """
    named = ([] if choice.keeper is None else [choice.keeper]) + list(choice.excluded)
    if any(members[i].content_hash is None for i in named):
        raise ChoiceError("a file of this group has no content hash in the index: rescan, then choose again")
    stamp = now if now is not None else time.time()
    hashes = sorted({m.content_hash for m in members if m.content_hash is not None})
    algorithm = CONTENT_HASH_ALGORITHM
    with write_transaction(conn):
        conn.executemany("DELETE FROM chosen_keepers WHERE keeper_hash = ? AND algorithm = ?",
                         ((h, algorithm) for h in hashes))
        conn.executemany("DELETE FROM excluded_files WHERE content_hash = ? AND algorithm = ?",
                         ((h, algorithm) for h in hashes))
        if choice.keeper is not None:
            keeper = members[choice.keeper]
            conn.executemany(
                "INSERT INTO chosen_keepers (keeper_hash, other_hash, algorithm, keeper_path, decided_at) "
                "VALUES (?, ?, ?, ?, ?)",
                ((keeper.content_hash, other, algorithm, path_key(keeper.path), stamp) for other in hashes))
        conn.executemany(
            "INSERT OR IGNORE INTO excluded_files (content_hash, path, algorithm, decided_at) VALUES (?, ?, ?, ?)",
            ((members[i].content_hash, path_key(members[i].path), algorithm, stamp) for i in choice.excluded))
