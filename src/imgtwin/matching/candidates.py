"""Candidate pairs of the thumbnail rules, and the one rule that keeps a pair's best row (``matching.near``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import DIHEDRAL_NAMES

PLAIN, ROTATED, CROP, FLAT = 0, 1, 2, 3  # candidate kinds, by precedence

# g^-1 for each dihedral index (rotate90 <-> rotate270, the rest are involutions).
_INVERSE = np.array([DIHEDRAL_NAMES.index(n) for n in ("identity", "mirror_h", "mirror_v", "rotate180", "transpose",
                                                        "rotate90", "rotate270", "transverse")])  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidates:
    """Pairs ``i < j`` with ``transform`` (dihedral index) mapping ``i`` onto ``j``.

    ``kind``: how the pair was found (``PLAIN``, ``ROTATED``, ``CROP``); a pair
    found several ways keeps the first of these, then the smallest distance.
    """

    i: np.ndarray
    j: np.ndarray
    distance: np.ndarray
    transform: np.ndarray
    kind: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Candidates:
        """No pairs, in the columns' types."""
        none = np.empty(0, np.int64)
        return cls(none, none, none.astype(np.int16), none.astype(np.int8), none.astype(np.int8))

    def where(self, keep: np.ndarray) -> Candidates:
        return Candidates(self.i[keep], self.j[keep], self.distance[keep], self.transform[keep],
                          None if self.kind is None else self.kind[keep])


def best_per_pair(i: np.ndarray, j: np.ndarray, d: np.ndarray, g: np.ndarray, k: np.ndarray | None = None
                  ) -> Candidates:  # fmt: skip
    """Orient pairs as i < j and keep each pair's best row: kind, then distance, identity on ties."""
    if k is None:
        k = np.where(g != 0, ROTATED, PLAIN)
    keep = i != j
    i, j, d, g, k = i[keep], j[keep], d[keep].astype(np.int16), g[keep].astype(np.int8), k[keep].astype(np.int8)
    swap = i > j
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    g = np.where(swap, _INVERSE[g], g).astype(np.int8)
    order = np.lexsort((g != 0, d, k == CROP, j, i))
    i, j, d, g, k = i[order], j[order], d[order], g[order], k[order]
    first = np.ones(len(i), dtype=bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    return Candidates(i[first], j[first], d[first], g[first], k[first])


def merged(cand: Candidates, more: Candidates) -> Candidates:
    """Each pair's best row of both lists (``cand``'s first: its rows win a tie), sorted by pair; a list
    without kinds counts as ``PLAIN``."""
    def kinds(c: Candidates) -> np.ndarray:
        return c.kind if c.kind is not None else np.full(len(c.i), PLAIN, np.int8)

    return best_per_pair(np.concatenate([cand.i, more.i]), np.concatenate([cand.j, more.j]),
                         np.concatenate([cand.distance, more.distance]),
                         np.concatenate([cand.transform, more.transform]), np.concatenate([kinds(cand), kinds(more)]))
