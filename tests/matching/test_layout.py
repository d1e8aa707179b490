"""The layout filter of the wide candidate bands (issue 26 part 2): copies stay, tiles sharing a cross go.

Real pictures made at test time: copies of shared photos (re-encoded, resized, turned, mirrored, cropped,
straightened), and mosaic tiles cut the way ``../shared/corpus/make_tiles.py --mosaic`` cuts them (2 x 2
pieces of photos, flipped, channels permuted), whose hashes collide on the cross where the pieces meet.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.batched import compute_features_many
from imgtwin.matching import layout
from imgtwin.matching.candidates import CROP, Candidates
from imgtwin.matching.layout import LayoutRule, layout_vectors, turned
from imgtwin.matching.near import (
    NearParams,
    candidate_pairs,
    judge,
    layout_scores,
    near_candidates,
    near_matches,
    whole_candidates,
    with_flat_candidates,
)
from imgtwin.matching.straighten import straightened_candidates, straightened_layout
from imgtwin.matching.stream import Judged
from imgtwin.matching.table import FeatureTable
from tests.helpers import cropped, shared_photo, straightened

RULE = LayoutRule()
MARGIN = 0.05  # the copies below must clear the bars by this much, not just pass


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    out.seek(0)
    return Image.open(out).convert("RGB")


def table_of(images: list[Image.Image]) -> FeatureTable:
    """The features a scan stores (the loader's grey <= 512 px picture and its small colour copy)."""
    grey, colour = [], []
    for image in images:
        small = image.copy()
        small.thumbnail((512, 512), Image.Resampling.LANCZOS)
        grey.append(small.convert("L"))
        colour.append(small.resize((64, 64), Image.Resampling.BILINEAR))
    return FeatureTable.from_features(compute_features_many(grey, None, colour))


def raw_candidates(table: FeatureTable, params: NearParams) -> Candidates:
    return with_flat_candidates(table, candidate_pairs(table, params.threshold + params.extension, params.rotations,
                                                       crop_radius=params.crop_threshold))


@pytest.fixture(scope="module")
def copies() -> tuple[FeatureTable, list[str]]:
    original = shared_photo(3, 900)
    w, h = original.size
    images = {
        "original": original,
        "re-encoded": jpeg(original, 55),
        "resized": original.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "rotated": original.rotate(90, expand=True),
        "mirrored": original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "cropped 10 % right": jpeg(cropped(original, right=0.10), 85),
        "cropped 4 % around": cropped(original, 0.04, 0.04, 0.04, 0.04),
        "straightened 4": jpeg(straightened(original, 4.0), 85),
    }
    for k in (10, 11, 12, 13):
        images[f"other {k}"] = shared_photo(k, 700)
    return table_of(list(images.values())), list(images)


def test_real_copies_clear_the_layout_bars_with_a_margin(copies: tuple[FeatureTable, list[str]]) -> None:
    table, names = copies
    params = NearParams(threshold=10)  # every copy a candidate of some band: the scores below are all checked
    cand = raw_candidates(table, params)
    score, bar = layout_scores(table, NearParams(), cand)
    pairs = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(cand.i, cand.j))}
    checked = 0
    for copy in range(1, 7):  # the straightened copy is the straightened stage's
        k = pairs.get((0, copy))
        if k is None:
            continue
        checked += 1
        assert score[k] >= bar[k] + MARGIN, (names[copy], score[k], bar[k])
    assert checked >= 5, "the copies should be candidates of the hash bands"
    turned_cand = straightened_candidates(table, 8)
    rows = np.flatnonzero(((turned_cand.i == 0) & (turned_cand.j == 7)) | ((turned_cand.i == 7) & (turned_cand.j == 0)))
    assert len(rows), "the straightened copy should be a straightened candidate"
    scores = straightened_layout(table, turned_cand.where(rows))
    assert scores.max() >= RULE.hypothesis + MARGIN


def test_real_copies_are_still_matched_with_the_filter(copies: tuple[FeatureTable, list[str]]) -> None:
    table, names = copies
    matches, _ = near_matches(table, NearParams())
    with_original = {int(b) for a, b in zip(matches.i, matches.j) if a == 0} | {
        int(a) for a, b in zip(matches.i, matches.j) if b == 0}
    assert {names[k] for k in range(1, 8)} <= {names[k] for k in with_original}
    assert not any(names[k].startswith("other") for k in with_original)


def mosaic_tiles(count: int, seed: int = 1) -> tuple[list[Image.Image], list[tuple[int, int]]]:
    """Tiles as ``make_tiles.py --mosaic`` makes them, and the planted copies (re-encoded or resized)."""
    rng = random.Random(seed)
    pool = [shared_photo(k, 1200) for k in range(8)]
    tiles: list[Image.Image] = []
    planted: list[tuple[int, int]] = []
    for _ in range(count):
        if tiles and rng.random() < 0.05:
            last = tiles[-1]
            copy = last.resize((last.width * 3 // 4, last.height * 3 // 4)) if rng.random() < 0.5 else last
            planted.append((len(tiles) - 1, len(tiles)))
            tiles.append(jpeg(copy, rng.randint(60, 85)))
            continue
        w, h = (96, 72) if rng.random() < 0.7 else (72, 96)
        tile = Image.new("RGB", (w, h))
        for qx, qy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            photo, pw, ph = rng.choice(pool), w // 2, h // 2
            s = rng.uniform(1.0, 4.0)
            cw, ch = int(pw * s), int(ph * s)
            x, y = rng.randint(0, photo.width - cw), rng.randint(0, photo.height - ch)
            piece = photo.crop((x, y, x + cw, y + ch)).resize((pw, ph), Image.Resampling.BILINEAR)
            flip = rng.choice([None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM,
                               Image.Transpose.ROTATE_180])
            piece = piece.transpose(flip) if flip is not None else piece
            piece = Image.merge("RGB", [piece.getchannel(c) for c in rng.sample("RGB", 3)])
            tile.paste(piece, (qx * pw, qy * ph))
        tiles.append(jpeg(tile, rng.randint(80, 95)))
    return tiles, planted


@pytest.fixture(scope="module")
def tiles() -> tuple[FeatureTable, list[tuple[int, int]]]:
    images, planted = mosaic_tiles(1500)
    return table_of(images), planted


def test_tiles_that_share_the_cross_are_dropped_and_none_would_have_matched(
        tiles: tuple[FeatureTable, list[tuple[int, int]]]) -> None:  # fmt: skip
    table, _ = tiles
    params = NearParams()
    raw = raw_candidates(table, params)
    kind = raw.kind if raw.kind is not None else np.zeros(len(raw.i), np.int8)
    wide = (kind == CROP) | (raw.distance > params.threshold)
    kept = near_candidates(table, params)
    kept_kind = kept.kind if kept.kind is not None else np.zeros(len(kept.i), np.int8)
    kept_wide = (kept_kind == CROP) | (kept.distance > params.threshold)
    assert wide.sum() >= 100, "the tiles should collide on the cross in the wide bands"
    assert kept_wide.sum() <= 0.2 * wide.sum(), (kept_wide.sum(), wide.sum())
    # What was dropped, verification would have rejected: the filter changes no decision here.
    n = len(table)
    dropped = ~np.isin(raw.i * n + raw.j, kept.i * n + kept.j)
    ok, _ = judge(table, params, Candidates(raw.i[dropped], raw.j[dropped], raw.distance[dropped],
                                            raw.transform[dropped], kind[dropped]))
    assert dropped.sum() >= 0.8 * wide.sum() and not ok.any()


def test_the_planted_copies_of_tiles_are_all_found(tiles: tuple[FeatureTable, list[tuple[int, int]]]) -> None:
    table, planted = tiles
    matches, _ = near_matches(table, NearParams())
    found = set(zip(matches.i.tolist(), matches.j.tolist()))
    assert planted and all((a, b) in found or (b, a) in found for a, b in planted)


def test_a_turn_keeps_dot_products_and_the_vectors_follow_the_pixels() -> None:
    thumbs = np.stack([np.asarray(table_of([shared_photo(k, 300)]).thumbs[0]) for k in (1, 2)])
    v = layout_vectors(thumbs)
    moves: list[Callable[[np.ndarray], np.ndarray]] = [lambda x: x, lambda x: x[:, :, ::-1], lambda x: x[:, ::-1, :],
                                                      lambda x: x[:, ::-1, ::-1], lambda x: np.swapaxes(x, 1, 2)]
    for g, pixels in enumerate(moves):
        moved = layout_vectors(np.ascontiguousarray(pixels(thumbs)))
        assert np.allclose(turned(v, np.full(2, g)), moved, atol=1e-4)
    gs = np.array([5, 6])
    assert np.allclose((turned(v[:1], gs[:1]) * v[1:]).sum(), (v[:1] * turned(v[1:], gs[1:])).sum(), atol=1e-5)


def test_escalation_sees_the_dropped_candidates_as_from_the_whole_list(
        tiles: tuple[FeatureTable, list[tuple[int, int]]], monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """``matching.partial`` leaves out the pairs the thumbnail rules had as candidates, the filter's dropped ones
    too, and looks again at every rejected upright one: streamed, a block of 97 files at a time, the dropped
    ones are answered from the hashes (``RawCandidates``) and looked at block by block, the same pairs as the
    whole list gives; the verdicts are the kept candidates' only (a dropped one is never undecided)."""
    from imgtwin.matching import stream
    from imgtwin.matching.partial import _agreeing, covered_candidates, look_again

    table, _ = tiles
    params = NearParams()
    every, keep = whole_candidates(table, params)
    for name, value in (("FIRST_BLOCK", 97), ("MIN_BLOCK", 97), ("TARGET_ROWS", 0)):
        monkeypatch.setattr(stream, name, value)
    judged: list[Judged] = []
    near_matches(table, params, judged, look_again(table))
    verdicts = judged[0]
    assert np.array_equal(verdicts.cand.i, every.i[keep]) and np.array_equal(verdicts.cand.j, every.j[keep])
    assert verdicts.raw.contains(every.i, every.j).all() and (~keep).sum() >= 100
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, len(table), (2, 20_000))
    n = len(table)
    strangers = ~np.isin(np.minimum(i, j) * n + np.maximum(i, j), every.i * n + every.j) & (i != j)
    assert strangers.sum() > 10_000 and not verdicts.raw.contains(i[strangers], j[strangers]).any()
    assert verdicts.raw.contains(every.j, every.i).all()  # either order
    ok = np.zeros(len(every.i), bool)
    ok[keep] = verdicts.ok
    whole = set(zip(*(side.tolist() for side in _agreeing(table, every, ok))))
    upright_dropped = (~keep & (every.transform == 0)).sum()
    assert upright_dropped >= 50 and whole == set(zip(*(side.tolist() for side in covered_candidates(table, verdicts))))


def test_crop_candidates_of_a_trimmed_file_are_never_filtered() -> None:
    """A file with a border cut (a screenshot's bars) may keep more of its frame than the crop hypotheses align
    away: its crop candidates always go to verification; another picture's are scored."""
    from PIL import ImageOps

    framed = ImageOps.pad(shared_photo(3, 300), (420, 420), color=(0, 0, 0))
    table = table_of([shared_photo(1, 300), framed, shared_photo(2, 300)])
    assert table.trimmed is not None and table.trimmed.tolist() == [False, True, False]
    pairs = Candidates(np.array([0, 0]), np.array([1, 2]), np.array([9, 9], np.int16), np.zeros(2, np.int8),
                       np.full(2, CROP, np.int8))
    score, bar = layout_scores(table, NearParams(), pairs)
    assert np.isinf(score[0]) and np.isfinite(score[1]) and score[1] < bar[1]


def test_scores_are_the_same_whatever_chunks_the_files_are_held_in(
        tiles: tuple[FeatureTable, list[tuple[int, int]]], monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Each file's vectors are derived once per chunk pair: held in one chunk or cut into many, the scores of
    the wide candidates are the same (to the float32 rounding of the products that derive them)."""
    table, _ = tiles
    params = NearParams()
    raw = raw_candidates(table, params)
    whole, _ = layout_scores(table, params, raw)
    monkeypatch.setattr(layout, "CHUNK_FILES", 97)  # 1,500 tiles: 16 chunks, 136 chunk pairs
    chunked, _ = layout_scores(table, params, raw)
    scored = np.isfinite(whole)
    assert scored.sum() >= 100
    assert np.array_equal(scored, np.isfinite(chunked))
    assert np.allclose(whole[scored], chunked[scored], atol=1e-4)


class _Counted:
    """A table whose ``take`` counts the rows it reads (``HashTable.take`` reads them from the index)."""

    def __init__(self, table: FeatureTable) -> None:
        self.table, self.read = table, 0

    def take(self, rows: np.ndarray) -> FeatureTable:
        self.read += len(rows)
        return self.table.take(rows)


def test_straightened_scores_read_each_file_once_and_are_each_candidates_own(
        tiles: tuple[FeatureTable, list[tuple[int, int]]], monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The straightened filter reads each ``j`` once for its stored vectors and each ``i`` once per chunk for its
    thumbnail (it read both files of every block of candidates), and scores each candidate as alone: ``i``'s
    untrimmed thumbnail warped by its hypothesis against ``j`` as stored or untrimmed; cut into many chunks and
    blocks, the same scores (to the float32 rounding of the products)."""
    from imgtwin.matching import straighten
    from imgtwin.matching.layout import LayoutVectors, unit

    table, _ = tiles
    cand = straightened_candidates(table, 10)
    assert len(cand.i) >= 300, "the tiles should collide on their straightened hashes"
    counted = _Counted(table)
    whole = straightened_layout(counted, cand)  # type: ignore[arg-type]
    assert counted.read == len(np.unique(cand.i)) + len(np.unique(cand.j))
    for k in np.random.default_rng(3).choice(len(cand.i), 60, replace=False).tolist():
        i, j, hypothesis = int(cand.i[k]), int(cand.j[k]), int(cand.angle[k])
        mine = unit(table.full(np.array([i])).reshape(1, -1).astype(np.float32) @ straighten._layout_map(hypothesis))
        alone = LayoutVectors(table.take(np.array([j]))).best(mine, np.array([0]))
        assert abs(float(whole[k]) - float(alone[0])) < 1e-4
    monkeypatch.setattr(straighten, "CHUNK_FILES", 97)
    monkeypatch.setattr(straighten, "BLOCK", 41)
    monkeypatch.setattr(layout, "BLOCK", 53)
    assert np.allclose(straightened_layout(table, cand), whole, atol=1e-4)
