"""Near-duplicate matches: hash candidates, then a verification that keeps precision.

Candidates (all found by radius search, never by a Python loop over pairs):

* *plain*: any of the two hashes of one file (whole image, border-trimmed)
  within ``threshold`` bits of any of the other's; a padded copy matches its
  original through the trimmed hash;
* *rotated/mirrored* (``rotations``): one of the 7 non-identity dihedral
  variants of a file's trimmed hash (derived from its DCT block) within
  ``threshold`` of another file's trimmed hash;
* *crop* (``crop_threshold``): edge crops of 2-10 % move a copy 10-26 bits
  away on the plain hashes, too far for a radius search that stays sparse
  (within 20 bits of each other are ~1 % of all pairs of photos).  Instead
  each file's untrimmed thumbnail is cropped the way an edited copy would be
  (:data:`CROP_HYPOTHESES`: 4 % and 8 % off every side, 8 % off one side) and
  the pHash of each hypothesis (derived from the stored thumbnail, no
  decode) is searched within ``crop_threshold`` bits of the other files' hashes.
* *flat* (``matching.flat``): pairs of low-detail pictures close in tone and
  colour, whatever their hash distance (their bits are noise).

Every candidate is then verified on the 32 x 32 thumbnails, crop-aligned
(``verify.aligned_scores``; trimmed and untrimmed thumbnails, see
:func:`verify_pairs`): the 255-bit detail hash distance separates true copies
from same-scene tiles and smooth pictures that collide on 64 bits (see
:func:`accept`), and the colour layout must agree too (``matching.colour``).
A pair where either picture is low-detail is judged on pixel agreement alone
(value and colour), never on hash or detail distances, whose bits are noise
there.  The reported distance is the best 64-bit hash distance of the pair
(for a crop candidate: of the matching crop hypothesis); ``Matches.basis``: what else accepted the pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import DIHEDRAL_NAMES
from imgtwin.matching.candidates import CROP, FLAT, PLAIN, ROTATED, Candidates, best_per_pair, merged
from imgtwin.matching.colour import ColourRules, colour_shift, low_detail_agreement, tone_difference
from imgtwin.matching.derived import CROP_HYPOTHESES, HASH_BLOCK
from imgtwin.matching.flat import flat_descriptors, flat_pairs
from imgtwin.matching.grouping import Matches, match_basis
from imgtwin.matching.hashtable import HashTable, hypotheses
from imgtwin.matching.layout import LayoutRule, layout_score
from imgtwin.matching.search import radius_join, radius_pairs
from imgtwin.matching.straighten import (
    REFINE,
    Straightened,
    settled,
    straightened_candidates,
    straightened_layout,
    warped_table,
)
from imgtwin.matching.stream import Judged, Look, streamed_candidates, wide_and_bar
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import Alignment, aligned_scores

#: Candidate pairs verified at once (a multiple of ``verify``'s batch): the pair arrays of one block
#: (thumbnails, colour, their float copies) stay within ~100 MB however many candidates there are.
JUDGE_BLOCK = 8192

@dataclass(frozen=True, slots=True)
class NearParams:
    """Matching settings; defaults from the corpus benchmark (benchmarks/corpus_accuracy.py).

    A candidate within ``threshold`` bits is accepted when, once aligned, its
    detail distance (255-bit, ``verify.detail_bits``) is <= ``max_detail``
    with a gradient correlation >= ``min_correlation_low`` (a copy's gradients
    always correlate, 0.8 and more for all but 2 of 4,969 such copies in the shared
    corpus, while a same-scene tile can share the coarse detail),
    or <= ``max_detail_mid`` with a correlation >= ``min_correlation_mid``,
    or <= ``max_detail_strong`` with a correlation >= ``min_correlation``;
    a crop candidate (a crop hypothesis within ``crop_threshold`` bits,
    upright only, see the module doc) needs detail <= ``crop_max_detail``.
    A candidate up to ``extension`` bits beyond ``threshold`` (straightened,
    perspective-fixed, captioned copies a plain pHash finds at 7-10 bits) is
    accepted on stricter evidence: detail <= ``extended_max_detail`` (upright
    only), or <= ``extended_max_detail_strong`` with a correlation >=
    ``extended_min_correlation``; on both benchmark corpora no wrong pair
    passes that (docs/benchmarks.md, issue 14).
    A straightened candidate (``matching.straighten``: a file turned by a few
    degrees and zoomed, within ``straight_threshold`` bits, at most
    ``crop_threshold``) is judged on the warped thumbnail by the crop rule, and
    since it had many more hypotheses to fit, stricter: detail <=
    ``straight_max_detail`` with the low correlation, or up to
    ``crop_max_detail`` with ``min_correlation`` (on the benchmark the
    different pictures of one scene that fit a turn score 26-28 and <= 0.88);
    and its tones must agree within ``straight_max_tone`` (a turn can lay one
    smooth edge on another, dark over light: 53 apart; a straightened copy
    moves them by 3-8, a brightness edit on top of it by up to ~30).
    Candidates of the wide bands must also pass ``layout`` (``matching.layout``: None keeps them all).
    ``crop_threshold=0`` disables the crop stage,
    ``straight_threshold=0`` the straightened one; ``rotations=False`` the
    rotated/mirrored candidates. ``colour`` holds the colour and pixel
    agreement thresholds (``matching.colour``).
    """

    threshold: int = 6
    rotations: bool = True
    max_detail: int = 32
    max_detail_strong: int = 60
    min_correlation: float = 0.9
    crop_threshold: int = 10
    crop_max_detail: int = 28
    max_detail_mid: int = 48
    min_correlation_mid: float = 0.8
    min_correlation_low: float = 0.8
    colour: ColourRules = ColourRules()
    extension: int = 4
    extended_max_detail: int = 32
    extended_max_detail_strong: int = 40
    extended_min_correlation: float = 0.93
    straight_threshold: int = 8
    straight_max_detail: int = 24
    straight_max_tone: float = 40.0
    layout: LayoutRule | None = LayoutRule()

    def __post_init__(self) -> None:
        if not 0 <= self.threshold < 64 or not 0 <= self.crop_threshold < 64 or not 0 <= self.threshold + self.extension < 64:
            raise ValueError("thresholds must be in 0..63 bits")


def candidate_pairs(table: FeatureTable | HashTable, radius: int, rotations: bool = True, rotation_radius: int | None = None,
                    crop_radius: int = 0) -> Candidates:  # fmt: skip
    """Every file pair whose best hash pairing is within ``radius`` bits.

    ``crop_radius`` > 0 adds the crop candidates (see the module doc).
    """
    n = len(table)
    both = np.concatenate([table.hashes, table.trim_hashes])
    a, b, d = radius_pairs(both, radius)
    parts = [(a % n, b % n, d, np.zeros(len(a), np.int8), np.full(len(a), PLAIN, np.int8))]
    if rotations and n > 1:
        queries = hypotheses(table, "rotated").reshape(-1)
        q, b, d = radius_join(queries, table.trim_hashes, radius if rotation_radius is None else rotation_radius)
        parts.append((q // 7, b, d, (q % 7 + 1).astype(np.int8), np.full(len(q), ROTATED, np.int8)))
    if crop_radius > 0 and n > 1:
        k = len(CROP_HYPOTHESES)
        q, b, d = radius_join(hypotheses(table, "crop").reshape(-1), both, crop_radius)
        parts.append((q // k, b % n, d, np.zeros(len(q), np.int8), np.full(len(q), CROP, np.int8)))
    i, j, d, g, kind = (np.concatenate(x) for x in zip(*parts))
    return best_per_pair(i.astype(np.int64), j.astype(np.int64), d, g, kind)


def accept(params: NearParams, distance: np.ndarray, transform: np.ndarray, correlation: np.ndarray,
           detail: np.ndarray, kind: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The acceptance rule on verified candidates (boolean mask).

    ``kind`` (``PLAIN``/``ROTATED``/``CROP``): without it, a candidate beyond
    ``threshold`` counts as a crop candidate.
    """
    close = (
        ((correlation >= params.min_correlation_low) & (detail <= params.max_detail))
        | ((correlation >= params.min_correlation_mid) & (detail <= params.max_detail_mid))
        | ((correlation >= params.min_correlation) & (detail <= params.max_detail_strong))
    )
    if kind is None:
        kind = np.where(distance <= params.threshold, PLAIN, CROP)
    direct = (kind != CROP) & (distance <= params.threshold) & close
    crop = (kind == CROP) & (transform == 0) & (distance <= params.crop_threshold)
    beyond = (kind != CROP) & (distance > params.threshold) & (distance <= params.threshold + params.extension)
    extended = beyond & (((kind == PLAIN) & (correlation >= params.min_correlation_low)
                          & (detail <= params.extended_max_detail))
                         | ((correlation >= params.extended_min_correlation)
                            & (detail <= params.extended_max_detail_strong)))  # fmt: skip
    return np.asarray(direct | (crop & (detail <= params.crop_max_detail)) | extended)


def verify_pairs(table: FeatureTable, i: np.ndarray, j: np.ndarray, g: np.ndarray,
                 scorer: Callable[..., Alignment] = aligned_scores) -> Alignment:
    """Aligned correlation, detail distance and crop windows of candidate pairs, best over the thumbnails kept.

    Trimmed thumbnails against each other first; where either file had a
    border cut, also the untrimmed ones (a frame or padding may be picture:
    a sky, a studio backdrop, or the other file may keep it) and the mixed
    pairs, keeping the lowest detail distance (and its correlation and windows); ``scorer``: for benchmarks.
    """
    best = scorer(table.thumbs[i], table.thumbs[j], g)
    correlation, detail, window_x, window_y = best.correlation, best.detail, best.window_x, best.window_y
    if table.trimmed is None or not table.trimmed.any():
        return best
    ti, tj = table.trimmed[i], table.trimmed[j]
    for use_full_i, use_full_j in ((True, True), (True, False), (False, True)):
        both = use_full_i and use_full_j
        rows = np.flatnonzero(ti | tj if both else (ti if use_full_i else True) & (tj if use_full_j else True))
        if len(rows) == 0:
            continue
        a = table.full(i[rows]) if use_full_i else table.thumbs[i[rows]]
        b = table.full(j[rows]) if use_full_j else table.thumbs[j[rows]]
        other = scorer(a, b, g[rows])
        better = other.detail < detail[rows]
        for mine, theirs in ((detail, other.detail), (correlation, other.correlation), (window_x, other.window_x),
                             (window_y, other.window_y)):
            mine[rows[better]] = theirs[better]
    return Alignment(correlation, detail, window_x, window_y)


def flat_candidates(table: FeatureTable | HashTable) -> Candidates:
    """The pairs of low-detail pictures alike in tone and colour (kind ``FLAT``), whatever their hashes."""
    if table.low_detail is None or not table.low_detail.any():
        return Candidates.empty()
    members = np.flatnonzero(table.low_detail)
    parts = []
    for lo in range(0, len(members), HASH_BLOCK):  # their thumbnails and colours, a block at a time
        flat = table.take(members[lo : lo + HASH_BLOCK])
        if flat.colour is None:
            return Candidates.empty()
        parts.append(flat_descriptors(flat.thumbs, flat.colour))
    fi, fj = flat_pairs(members, *(np.concatenate(p) for p in zip(*parts)))
    fd = (np.bitwise_count(table.hashes[fi] ^ table.hashes[fj])).astype(np.int16)
    return Candidates(fi, fj, fd, np.zeros(len(fi), np.int8), np.full(len(fi), FLAT, np.int8))


def with_flat_candidates(table: FeatureTable | HashTable, cand: Candidates) -> Candidates:
    """``cand`` plus the pairs of low-detail pictures alike in tone and colour (kind ``FLAT``)."""
    flat = flat_candidates(table)
    if len(flat.i) == 0:
        return cand
    return merged(cand, flat)


def judge(table: FeatureTable | HashTable, params: NearParams, cand: Candidates) -> tuple[np.ndarray, Alignment]:
    """(accepted mask, alignments) of candidate pairs: structure and colour, or pixel agreement.

    Pairs are judged ``JUDGE_BLOCK`` at a time, on the thumbnails and colours of that block's files only
    (``table.take``: a ``HashTable`` reads them from the index); each pair on its own: the blocks change
    nothing but the memory, which stays constant however many candidates and files there are.
    """
    n = len(cand.i)
    parts = []
    for lo in range(0, max(n, 1), JUDGE_BLOCK):
        cut = slice(lo, lo + JUDGE_BLOCK)
        i, j = cand.i[cut], cand.j[cut]
        rows, at = np.unique(np.concatenate([i, j]).astype(np.int64), return_inverse=True)
        at = at.reshape(-1)
        parts.append(_judge(table.take(rows), params, Candidates(
            at[: len(i)], at[len(i) :], cand.distance[cut], cand.transform[cut],
            None if cand.kind is None else cand.kind[cut])))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), Alignment(*(np.concatenate([getattr(p[1], f) for p in parts])
                                                              for f in ("correlation", "detail", "window_x", "window_y")))


def _judge(table: FeatureTable, params: NearParams, cand: Candidates) -> tuple[np.ndarray, Alignment]:
    i, j, d, g, k = cand.i, cand.j, cand.distance, cand.transform, cand.kind
    alignment = verify_pairs(table, i, j, g)
    structural = accept(params, d, g, alignment.correlation, alignment.detail, k)
    if table.colour is None or table.low_detail is None or len(i) == 0:
        return structural, alignment
    colour, trim = table.colour, table.trim
    flat = table.low_detail[i] | table.low_detail[j]
    # Only where the structure cannot decide are colours compared as they are (see matching.colour).
    plain = flat if table.mostly_flat is None else flat | table.mostly_flat[i] | table.mostly_flat[j]
    shift = colour_shift(colour[i], colour[j], g, alignment.window_x, alignment.window_y,
                         trim[i] if trim is not None else None, trim[j] if trim is not None else None, relative=~plain)
    verified = structural & (shift <= params.colour.max_cell_shift)
    ok = verified.copy()
    if flat.any():
        rows = np.flatnonzero(flat)
        # A soft photo's detail bits are noise too (a 281-pixel copy of a blurred photo is 42 from it): its gradients
        # may decide (0.997 there), for a pair the hash bands found (a scene shifted by half a frame agrees in pixels
        # and in gradients as well: the hash still says where the picture is).
        soft = ((alignment.correlation >= params.min_correlation) & (shift <= params.colour.max_cell_shift)
                & (d <= params.threshold + params.extension) & (k != FLAT if k is not None else True))
        bare = (table.featureless[i] | table.featureless[j]) if table.featureless is not None else flat
        ok[rows] = low_detail_agreement(table.full(i[rows]), table.full(j[rows]), colour[i[rows]], colour[j[rows]],
                                        g[rows], verified[rows], soft[rows], bare[rows], params.colour)
    if table.mostly_flat is not None:
        # A different flat picture in other shades cannot be told from a brightness edit: tones must agree.
        toned = np.flatnonzero(ok & ~flat & (table.mostly_flat[i] | table.mostly_flat[j]))
        if len(toned):
            ok[toned] = tone_difference(table.thumbs[i[toned]], table.thumbs[j[toned]], g[toned],
                                        alignment.window_x[toned], alignment.window_y[toned]) <= params.colour.max_tone
    return ok, alignment


def layout_scores(table: FeatureTable | HashTable, params: NearParams, cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """``(score, bar)`` per candidate for ``params.layout`` (``matching.layout``; kept: score >= bar): inf (kept) for
    plain and rotated candidates within the threshold, low-detail pairs, layout neighbours, crops of a trimmed file."""
    wide, bar = wide_and_bar(table, params, cand)
    return layout_score(table, cand.i, cand.j, cand.transform, wide), bar


def near_candidates(table: FeatureTable | HashTable, params: NearParams) -> Candidates:
    """The candidates ``near_matches`` verifies (hash bands, layout neighbours, less those ``params.layout``
    drops), searched and filtered a block of files at a time (``matching.stream``)."""
    return streamed_candidates(table, params, flat_candidates(table)).kept


def whole_candidates(table: FeatureTable | HashTable, params: NearParams) -> tuple[Candidates, np.ndarray]:
    """Every candidate of the hash bands and layout neighbours, and which ``params.layout`` keeps: the whole
    search at once, what :func:`near_candidates` streams (the reference of its tests and benchmarks)."""
    cand = with_flat_candidates(table, candidate_pairs(table, params.threshold + params.extension, params.rotations,
                                                       crop_radius=params.crop_threshold))
    if params.layout is None:
        return cand, np.ones(len(cand.i), bool)
    return cand, np.greater_equal(*layout_scores(table, params, cand))


def near_matches(table: FeatureTable | HashTable, params: NearParams = NearParams(),
                 judged: list[Judged] | None = None, look: Look | None = None) -> tuple[Matches, np.ndarray]:
    """Verified near matches and their detail distances (0..255, lower = closer); ``judged`` gets every verdict,
    ``look`` every block's dropped candidates (``matching.stream``)."""
    streamed = streamed_candidates(table, params, flat_candidates(table), look)
    cand = streamed.kept
    ok, alignment = judge(table, params, cand)
    (judged if judged is not None else []).append(Judged(cand, ok, alignment, streamed.raw, streamed.looked))
    i, j, d, g = cand.i[ok], cand.j[ok], cand.distance[ok], cand.transform[ok]
    flat = table.low_detail[i] | table.low_detail[j] if table.low_detail is not None else np.zeros(len(i), bool)
    crop = cand.kind[ok] == CROP if cand.kind is not None else np.zeros(len(i), bool)
    matches = Matches(i, j, d, tuple(DIHEDRAL_NAMES[int(x)] for x in g), alignment.window_x[ok],
                      alignment.window_y[ok], basis=match_basis(flat, crop, d > params.threshold))
    if params.straight_threshold <= 0:
        return matches, alignment.detail[ok]
    turned, detail = straightened_matches(table, params, matches)
    return matches.concat(turned), np.concatenate([alignment.detail[ok], detail])


def straightened_matches(table: FeatureTable | HashTable, params: NearParams, found: Matches
                         ) -> tuple[Matches, np.ndarray]:  # fmt: skip
    """The straightened candidates no other candidate matched, accepted on the warped thumbnail by the crop
    rule (within ``crop_threshold`` bits, detail <= ``crop_max_detail``) and stricter (``NearParams``).

    Warped and judged ``JUDGE_BLOCK`` candidates at a time (``len(REFINE)`` whole blocks of ``judge``: the
    same blocks as all at once), on the pixels of that block's files only."""
    cand = straightened_candidates(table, min(params.straight_threshold, params.crop_threshold))
    n = np.int64(max(len(table), 1))
    seen = np.minimum(found.i, found.j).astype(np.int64) * n + np.maximum(found.i, found.j)
    cand = cand.where(~np.isin(np.minimum(cand.i, cand.j) * n + np.maximum(cand.i, cand.j), seen))
    if params.layout is not None and len(cand.i):
        cand = cand.where(straightened_layout(table, cand) >= params.layout.hypothesis)
    parts = [_straightened_block(table, params, Straightened(*(x[lo : lo + JUDGE_BLOCK] for x in (
        cand.i, cand.j, cand.distance, cand.angle)))) for lo in range(0, max(len(cand.i), 1), JUDGE_BLOCK)]
    ok, detail, turns = (np.concatenate(p) for p in zip(*parts))
    cand, ok, detail = settled(cand, detail, ok, turns)
    cand = cand.where(ok)
    to_j, to_i = cand.describe()
    return Matches(cand.i, cand.j, cand.distance, to_j, inverse=to_i, basis=("straightened",) * len(to_j)), detail[ok]


def _straightened_block(table: FeatureTable | HashTable, params: NearParams, cand: Straightened
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per row of ``warped_table`` of these candidates: accepted, detail distance, turn."""
    rows, at = np.unique(np.concatenate([cand.i, cand.j]).astype(np.int64), return_inverse=True)
    at = at.reshape(-1)
    local = Straightened(at[: len(cand.i)], at[len(cand.i) :], cand.distance, cand.angle)
    derived, turns = warped_table(table.take(rows), local)
    m = len(turns)
    rows, upright = np.arange(m), np.zeros(m, np.int8)
    ok, alignment = judge(derived, params, Candidates(
        rows, rows + m, np.repeat(cand.distance, len(REFINE)).astype(np.int16), upright,
        np.full(m, CROP, np.int8)))
    correlation, detail = alignment.correlation, alignment.detail
    ok &= ((correlation >= params.min_correlation_low) & (detail <= params.straight_max_detail)) | (
        (correlation >= params.min_correlation) & (detail <= params.crop_max_detail))
    ok &= tone_difference(derived.thumbs[rows], derived.thumbs[rows + m], upright, alignment.window_x,
                          alignment.window_y) <= params.straight_max_tone
    return ok, detail, turns
