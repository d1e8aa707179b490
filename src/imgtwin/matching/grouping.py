"""Duplicate groups from accepted matches, without chaining.

Rule (*keeper star*): every member of a group is a direct, accepted match of
the group's keeper.  Files are visited from the most to the least preferred
keeper (``keeper.keeper_order``); an unassigned file with unassigned matches
becomes a keeper and takes all of them.  So A~B, B~C with A!~C never puts A
and C together through B: chaining (single linkage) would let a run of small
edits join unrelated pictures.  Each member carries its distance to the keeper
and the transform relating them.

Exact duplicates (same bytes) are grouped first and act as one unit: the unit's
best file stands for all of them in near matching, and its byte twins follow
it into whichever group it lands in (distance 0, transform ``exact``).  A group
is ``exact`` when all its members are byte twins of the keeper, else ``near``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

EXACT = "exact"
NEAR = "near"

# What accepted a pair where the hash distance alone would not have (``Matches.basis``; "": the hash
# within the threshold, verified), in the words every output shows (``GroupMember.reason``).
MATCHED_BY = {
    "flat": "low-detail picture: matched by tone and layout",
    "crop": "cropped: matched on the aligned crop",
    "extended": "beyond the threshold: matched on strict detail checks",
    "local": "matched by local features",
    "straightened": "straightened: matched on the turned and cropped thumbnail",
}


def match_basis(flat: np.ndarray, crop: np.ndarray, beyond: np.ndarray) -> tuple[str, ...]:
    """Per pair, the ``MATCHED_BY`` key: a low-detail pair is judged by pixel agreement whatever its
    distance, a crop candidate on its aligned crop, and one beyond the threshold on stricter detail."""
    return tuple("flat" if f else "crop" if c else "extended" if b else "" for f, c, b in zip(flat, crop, beyond))


@dataclass(frozen=True, slots=True)
class Matches:
    """Accepted near matches ``i ~ j``; ``transform[k]`` maps ``i``'s picture onto ``j``'s.

    ``transform`` uses ``features.DIHEDRAL_NAMES`` (``identity`` for plain
    near copies), or a description from a geometric fit (``rotated 3°, crop
    22%``, from ``--deep``); ``inverse``, when given, says how ``j``'s picture
    relates to ``i``'s (else it is derived from ``transform``: dihedral names
    only).  The arrays are parallel and may list a pair in either order.
    """

    i: np.ndarray
    j: np.ndarray
    distance: np.ndarray
    transform: tuple[str, ...]
    # The crop windows the verification aligned each pair with (verify.crop_windows indices), if known.
    window_x: np.ndarray | None = None
    window_y: np.ndarray | None = None
    inverse: tuple[str, ...] | None = None
    basis: tuple[str, ...] | None = None  # per pair, a ``MATCHED_BY`` key or ""; None: all ""

    def inverses(self) -> tuple[str, ...]:
        return self.inverse if self.inverse is not None else tuple(_inverse(t) for t in self.transform)

    def bases(self) -> tuple[str, ...]:
        return self.basis if self.basis is not None else ("",) * len(self.transform)

    def where(self, keep: np.ndarray) -> Matches:
        """The matches whose entry in the boolean array ``keep`` is true."""
        picked = np.flatnonzero(keep).tolist()
        return Matches(
            self.i[keep], self.j[keep], self.distance[keep], tuple(self.transform[k] for k in picked),
            self.window_x[keep] if self.window_x is not None else None,
            self.window_y[keep] if self.window_y is not None else None,
            tuple(self.inverse[k] for k in picked) if self.inverse is not None else None,
            tuple(self.basis[k] for k in picked) if self.basis is not None else None,
        )

    def concat(self, other: Matches) -> Matches:
        """Both sets of matches in one (a pair in both keeps its smaller distance when grouped).

        Crop windows are kept only when both sides have them (a pair without is never read as cropped).
        """
        windows: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        if self.window_x is not None and self.window_y is not None:
            from imgtwin.matching.verify import uncropped_window

            fill = np.full(len(other.i), uncropped_window(), dtype=self.window_x.dtype)
            wx = other.window_x if other.window_x is not None else fill
            wy = other.window_y if other.window_y is not None else fill
            windows = (np.concatenate([self.window_x, wx]), np.concatenate([self.window_y, wy]))
        return Matches(
            np.concatenate([self.i, other.i]).astype(np.int64), np.concatenate([self.j, other.j]).astype(np.int64),
            np.concatenate([self.distance, other.distance]).astype(np.int64), self.transform + other.transform,
            *windows, self.inverses() + other.inverses(), self.bases() + other.bases(),
        )


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    distance: int  # bits from the keeper (0 for the keeper and byte twins)
    transform: str  # "keeper", "exact", "identity", "mirror_h", "rotate90", ...
    basis: str = ""  # what accepted its match with the keeper (``MATCHED_BY``), "" for the hash alone


@dataclass(frozen=True, slots=True)
class Group:
    keeper: int
    members: tuple[Member, ...]  # keeper first, then by distance and index
    category: str  # "exact" | "near"

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(m.index for m in self.members)


_INVERSE = {"rotate90": "rotate270", "rotate270": "rotate90"}  # all others are involutions

#: The dihedral transforms (``hashing.features.DIHEDRAL_NAMES``) that mirror a picture. The thumbnail rules
#: find mirrored copies; a fit of local features (``matching.geometry``) keeps the orientation, as every
#: transform text of the escalation and of the framed pictures does, but one made on a mirror image's
#: features (``escalate.mirrored_matches``), whose words say so first (:data:`MIRRORED`).
MIRRORS = frozenset({"mirror_h", "mirror_v", "transpose", "transverse"})
MIRRORED = "mirrored"


def _dihedral_tables() -> tuple[list[list[int]], list[int], list[bool]]:
    """``compose[g][h]``: the orientation of a picture turned by ``h``, then by ``g``; each one's inverse; and
    whether it mirrors (``DIHEDRAL_NAMES`` indices, from ``features.dihedral_pixels``)."""
    from imgtwin.hashing.features import DIHEDRAL_NAMES, dihedral_pixels

    probe = np.arange(6).reshape(2, 3)
    images = [p.tobytes() + bytes(p.shape) for p in dihedral_pixels(probe)]
    compose = [[images.index((q := dihedral_pixels(dihedral_pixels(probe)[h])[g]).tobytes() + bytes(q.shape))
                for h in range(8)] for g in range(8)]  # fmt: skip
    inverse = [compose[g].index(0) for g in range(8)]
    mirroring = [DIHEDRAL_NAMES[g] in MIRRORS for g in range(8)]
    return compose, inverse, mirroring


COMPOSE, INVERSE, MIRRORING = _dihedral_tables()


def mirrors(transform: str | None) -> bool:
    """Whether a match's transform (a dihedral name, or a fit's words) mirrors the picture."""
    return transform is not None and (transform in MIRRORS or transform.startswith(MIRRORED))


def _inverse(transform: str) -> str:
    return _INVERSE.get(transform, transform)


def form_groups(
    n: int,
    matches: Matches,
    order: Sequence[int],
    exact_labels: Sequence[int] | None = None,
    apart: Callable[[int, int], bool] | None = None,
) -> list[Group]:
    """Groups of ``n`` files (indices ``0..n-1``) under the keeper-star rule.

    ``order``: all indices from the most to the least preferred keeper.
    ``exact_labels``: per file, the id of its byte-identical set or -1.
    ``apart(i, j)``: whether a person said ``i`` and ``j`` are not duplicates; no group then holds both
    (a file set apart from a group's members is left for a later group, or none).
    """
    if sorted(order) != list(range(n)):
        raise ValueError("order must be a permutation of range(n)")
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(n)

    # Exact sets: the best-ranked file represents the set.
    labels = list(exact_labels) if exact_labels is not None else [-1] * n
    rep = np.arange(n)
    twins: dict[int, list[int]] = {}
    best_of: dict[int, int] = {}
    for index in sorted(range(n), key=lambda k: rank[k]):
        label = labels[index]
        if label < 0:
            continue
        if label in best_of:
            rep[index] = best_of[label]
            twins[best_of[label]].append(index)
        else:
            best_of[label] = index
            twins[index] = []

    # Near matches between representatives: best (smallest) distance per pair.
    neighbours: dict[int, dict[int, tuple[int, str, str]]] = {}
    rows = zip(matches.i.tolist(), matches.j.tolist(), matches.distance.tolist(), matches.transform,
               matches.inverses(), matches.bases())
    for a, b, d, t, back, why in rows:
        ra, rb = int(rep[a]), int(rep[b])
        if ra == rb:
            continue
        for x, y, tr in ((ra, rb, t), (rb, ra, back)):
            known = neighbours.setdefault(x, {}).get(y)
            if known is None or d < known[0]:
                neighbours[x][y] = (int(d), tr, why)  # tr maps x's picture onto y's

    assigned = np.zeros(n, dtype=bool)
    groups: list[Group] = []
    for keeper in order:
        if assigned[keeper] or rep[keeper] != keeper:
            continue
        near = sorted(
            ((d, rank[m], m, t, why) for m, (d, t, why) in neighbours.get(keeper, {}).items() if not assigned[m]),
        )
        members = [Member(keeper, 0, "keeper")]
        members += [Member(t, 0, EXACT) for t in twins.get(keeper, [])]
        for d, _, m, t, why in near:
            if apart is not None and any(apart(m, member.index) for member in members):
                continue  # byte twins share m's content, so its decisions too
            members.append(Member(m, d, t, why))
            members += [Member(tw, d, t, why) for tw in twins.get(m, [])]
        if len(members) < 2:
            continue
        assigned[[m.index for m in members]] = True
        groups.append(Group(keeper, tuple(members), _category(members)))
    return _with_copies_of_look_alikes(groups, neighbours, rep, twins, assigned, rank, apart)


def _category(members: Sequence[Member]) -> str:
    return EXACT if all(m.transform in ("keeper", EXACT) for m in members) else NEAR


#: The matches decided on where the picture lies (a crop's alignment, a straightened thumbnail, a fit of local
#: features), not on how far its hash is: a copy matched so may join through a look-alike of the keeper.
_GEOMETRIC = frozenset({"crop", "straightened", "local"})
#: What a member matched with a copy of the keeper that looks the same (``_with_copies_of_look_alikes``) shows.
LOOK_ALIKE = "copy"
MATCHED_BY[LOOK_ALIKE] = "matched with a copy of the keeper that looks the same"


def _with_copies_of_look_alikes(
    groups: list[Group], neighbours: dict[int, dict[int, tuple[int, str, str]]], rep: np.ndarray,
    twins: dict[int, list[int]], assigned: np.ndarray, rank: np.ndarray, apart: Callable[[int, int], bool] | None,
) -> list[Group]:
    """``groups`` with the files left in no group that match a member which looks the same as its keeper.

    Why: the keeper is chosen by the files' qualities (``keeper``), and may be a re-encoded, noisy, blurred or
    tone-changed copy (or a turned one) where the photo itself lost on a later tier; a copy that only local
    features or a crop's alignment match (a crop, a sticker, a screenshot) matches the photo, not that copy, and
    was in no group. A member that matched the keeper in the same frame on the thumbnail rules (a dihedral
    transform, accepted on the hash and the aligned detail, or on the pixels of a low-detail picture: no crop, no
    local fit) shows the keeper's picture, as it stands or turned; a copy of it that a crop's alignment, a
    straightened thumbnail or local features matched is a copy of the keeper (its transform against the keeper is
    its own, after the member's turn; a fit's words only on an upright member). Not one matched on its hash
    distance alone: two such steps are the chain of small edits the keeper-star rule keeps apart (see above). Only files in no group are
    added (each to the group of its closest such member), so no group loses a file to another, and no chain
    runs longer than that one look-alike.
    """
    from imgtwin.hashing.features import DIHEDRAL_NAMES

    best: dict[int, tuple[int, int, int, str, str]] = {}  # file -> (distance, rank of the member, group, ...)
    for k, group in enumerate(groups):
        for member in group.members:
            turned = member.transform if member.transform in DIHEDRAL_NAMES else None
            if turned is None or member.basis not in ("", "flat") or rep[member.index] != member.index:
                continue
            for m, (d, t, why) in neighbours.get(member.index, {}).items():
                if why not in _GEOMETRIC or assigned[m] or rep[m] != m or (
                        apart is not None and any(apart(m, x.index) for x in group.members)):
                    continue
                if turned != "identity":  # the keeper's picture turned: a copy's turn on top of it, if one
                    if t not in DIHEDRAL_NAMES:
                        continue
                    t = DIHEDRAL_NAMES[COMPOSE[DIHEDRAL_NAMES.index(t)][DIHEDRAL_NAMES.index(turned)]]
                key = (d, int(rank[member.index]), k, t, why)
                if m not in best or key < best[m]:
                    best[m] = key
    if not best:
        return groups
    extra: dict[int, list[Member]] = {}
    for m, (d, _, k, t, _) in sorted(best.items(), key=lambda item: (item[1][2], item[1][0], int(rank[item[0]]))):
        added = extra.setdefault(k, [])
        if apart is not None and any(apart(m, x.index) for x in added):
            continue
        added += [Member(m, d, t, LOOK_ALIKE)] + [Member(tw, d, t, LOOK_ALIKE) for tw in twins.get(m, [])]
    return [g if k not in extra else Group(g.keeper, (*g.members, *extra[k]), _category((*g.members, *extra[k])))
            for k, g in enumerate(groups)]
