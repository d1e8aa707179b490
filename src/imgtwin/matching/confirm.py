"""Is each member of a proposed near group a verified match of its keeper?

A plan file (or a review page's export) says which files are copies of which
keeper; a person may have edited it, or anyone may have written it. Before
``dedupe`` acts on a near member it asks the matcher again, from the features
the index holds: the same candidate search, verification and acceptance rule
as ``find`` (``near.near_matches`` on a table of just these files), so that any
later change to matching applies here too. Nothing is re-implemented here.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgtwin.hashing.features import MatchFeatures
from imgtwin.matching.near import NearParams, near_matches
from imgtwin.matching.table import FeatureTable

#: The most bits a plan, ``MatchOptions`` or ``--threshold`` may ask for: above it, different
#: pictures of a scene are grouped more often than not.
MAX_THRESHOLD = 20


def plan_params(threshold: object = None, rotations: object = None) -> NearParams:
    """``find``'s matching settings with a plan's ``threshold`` and ``rotations`` (absent: find's defaults).

    A threshold above :data:`MAX_THRESHOLD` is lowered to it: a document cannot
    loosen matching beyond what the command line allows. TypeError for values
    of the wrong type, ValueError for a negative threshold.
    """
    defaults = NearParams()
    if threshold is None:
        threshold = defaults.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise TypeError(f"threshold must be a whole number of bits, not {threshold!r}")
    if threshold < 0:
        raise ValueError(f"threshold must be 0 bits or more, not {threshold}")
    if rotations is None:
        rotations = defaults.rotations
    if not isinstance(rotations, bool):
        raise TypeError(f"rotations must be true or false, not {rotations!r}")
    return NearParams(threshold=min(threshold, MAX_THRESHOLD), rotations=rotations)


def confirm_pairs(features: Sequence[MatchFeatures], pairs: Sequence[tuple[int, int]],
                  params: NearParams | None = None) -> list[bool]:
    """For each ``(keeper, member)`` index pair into ``features``, whether it is a verified near match.

    One run of the matcher over all the files (its verdict on a pair depends
    on that pair alone, so many groups are checked at once at find's cost).
    Give the files in the order ``find`` loads them (by path) so that every
    pair is oriented as it is there. ``params``: find's defaults when None.
    """
    if any(not (0 <= a < len(features) and 0 <= b < len(features)) for a, b in pairs):
        raise IndexError("a pair names a file that is not among the features")
    if not pairs:
        return []
    matches, _ = near_matches(FeatureTable.from_features(features), params or NearParams())
    found = {(min(i, j), max(i, j)) for i, j in zip(matches.i.tolist(), matches.j.tolist())}
    return [a == b or (min(a, b), max(a, b)) in found for a, b in pairs]


def confirm_members(features: Sequence[MatchFeatures], keeper: int, params: NearParams | None = None) -> list[bool]:
    """For each of ``features``, whether it is a verified near match of ``features[keeper]`` (the keeper: True)."""
    if not 0 <= keeper < len(features):
        raise IndexError("keeper is not one of the features")
    return confirm_pairs(features, [(keeper, k) for k in range(len(features))], params)
