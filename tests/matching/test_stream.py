"""The candidates searched and filtered a block of files at a time (``matching.stream``, issue 26 part 2): the
whole search's kept candidates, row for row, whatever the blocks; memory that follows the kept candidates.

Real pictures made at test time: mosaic tiles cut from the shared photos (``test_layout.mosaic_tiles``), whose
hashes collide in the wide bands, and copies of shared photos (turned, mirrored, cropped, re-encoded).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from PIL import Image

from imgtwin.matching import layout, stream
from imgtwin.matching.candidates import Candidates
from imgtwin.matching.near import NearParams, flat_candidates, whole_candidates
from imgtwin.matching.stream import RawCandidates, StreamCounts, streamed_candidates
from imgtwin.matching.table import FeatureTable
from tests.helpers import cropped, shared_photo
from tests.matching.test_layout import jpeg, mosaic_tiles, table_of

FIELDS = ("i", "j", "distance", "transform", "kind")


@pytest.fixture(scope="module")
def tiles() -> FeatureTable:
    images, _ = mosaic_tiles(600, seed=2)
    return table_of(images)


@pytest.fixture(scope="module")
def photos() -> FeatureTable:
    images = []
    for k in range(6):
        original = shared_photo(k, 500)
        images += [original, original.rotate(90, expand=True), original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                   jpeg(cropped(original, right=0.08), 80), cropped(original, 0.04, 0.04, 0.04, 0.04),
                   jpeg(original, 50)]
    return table_of(images)


def blocks_of(monkeypatch: pytest.MonkeyPatch, files: int, chunk: int | None = None) -> None:
    """Every block ``files`` query files (and the files held in chunks of ``chunk``)."""
    for name, value in (("FIRST_BLOCK", files), ("MIN_BLOCK", files), ("TARGET_ROWS", 0)):
        monkeypatch.setattr(stream, name, value)
    if chunk is not None:
        monkeypatch.setattr(layout, "CHUNK_FILES", chunk)


def same(a: Candidates, b: Candidates) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)


PARAMS = {"default": NearParams(), "threshold 10": NearParams(threshold=10), "no layout filter": NearParams(layout=None),
          "no rotations": NearParams(rotations=False), "no crops": NearParams(crop_threshold=0)}


@pytest.mark.parametrize("files, chunk", [(600, None), (97, None), (13, None), (41, 97)])
@pytest.mark.parametrize("name", list(PARAMS))
def test_streamed_candidates_are_the_whole_searchs(tiles: FeatureTable, monkeypatch: pytest.MonkeyPatch,
                                                   files: int, chunk: int | None, name: str) -> None:  # fmt: skip
    params = PARAMS[name]
    every, keep = whole_candidates(tiles, params)
    blocks_of(monkeypatch, files, chunk)
    streamed = streamed_candidates(tiles, params, flat_candidates(tiles))
    assert same(streamed.kept, every.where(keep)), name
    assert streamed.counts.raw == len(every.i) and streamed.counts.kept == keep.sum()
    assert streamed.counts.blocks >= -(-600 // files)
    assert len(every.i) >= 50 and (params.layout is None or keep.sum() < 0.6 * len(every.i))


def test_a_pair_is_resolved_once_in_its_owners_block_whichever_side_found_it(
        tiles: FeatureTable, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Blocks of 13 files: most candidates lie across a block boundary, some pairs are found only from
    the larger file's hashes (owned by it), some only from the smaller's; each comes out once, its best row the
    one the whole search picks among the rows of both sides."""
    params = NearParams(layout=None)
    every, _ = whole_candidates(tiles, params)
    raw = RawCandidates.of(tiles, params, flat_candidates(tiles))
    ahead, back = stream._side(raw, every.i, every.j), stream._side(raw, every.j, every.i)
    only_back, only_ahead = ~ahead.any(raw) & back.any(raw), ahead.any(raw) & ~back.any(raw)
    across = every.i // 13 != every.j // 13
    assert only_back.sum() >= 10 and only_ahead.sum() >= 10 and across.mean() > 0.5
    blocks_of(monkeypatch, 13)
    streamed = streamed_candidates(tiles, params, flat_candidates(tiles))
    assert same(streamed.kept, every)


@pytest.mark.parametrize("threshold", [6, 10])
def test_copies_of_real_photos_are_the_same_candidates(photos: FeatureTable, monkeypatch: pytest.MonkeyPatch,
                                                       threshold: int) -> None:  # fmt: skip
    params = NearParams(threshold=threshold)
    every, keep = whole_candidates(photos, params)
    kinds = set(every.kind.tolist()) if every.kind is not None else set()
    assert len(kinds) >= 3 and (every.transform != 0).any()  # plain, turned and crop candidates among them
    blocks_of(monkeypatch, 5, 11)
    assert same(streamed_candidates(photos, params, flat_candidates(photos)).kept, every.where(keep))


def dense_table(files: int, seed: int = 1) -> FeatureTable:
    """Noise pictures whose hashes lie 6-10 bits apart (each 5 bits off one hash), most in the extension band:
    every pair a raw candidate, and the layout filter drops those it scores (noise shares no structure)."""
    rng = np.random.default_rng(seed)
    base = np.uint64(rng.integers(0, 2**63))
    bits = np.stack([rng.choice(64, 5, replace=False) for _ in range(files)])
    hashes = base ^ np.bitwise_or.reduce(np.left_shift(np.uint64(1), bits.astype(np.uint64)), axis=1)
    thumbs = rng.integers(0, 256, (files, 32, 32), dtype=np.uint8)
    return FeatureTable(hashes, hashes.copy(), thumbs)


def peak_bytes(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_follows_the_kept_candidates_not_the_raw_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """600 and 1,200 dense files: 4x the raw candidates (every pair), ~2 % kept; the streamed search's peak
    grows with the files at most (blocks of ~60,000 search rows), the whole search's with the raw candidates."""
    params = NearParams(rotations=False, crop_threshold=0)
    monkeypatch.setattr(stream, "TARGET_ROWS", 60_000)
    monkeypatch.setattr(stream, "MIN_BLOCK", 8)
    monkeypatch.setattr(stream, "FIRST_BLOCK", 8)
    small, large = dense_table(600), dense_table(1200, seed=2)
    streamed_candidates(small, params, flat_candidates(small))  # numba's kernels compiled outside the peak
    counts: list[StreamCounts] = []

    def streamed(table: FeatureTable) -> None:
        counts.append(streamed_candidates(table, params, flat_candidates(table)).counts)

    peaks = [peak_bytes(partial(streamed, t)) for t in (small, large)]
    whole = peak_bytes(lambda: whole_candidates(large, params))
    assert [c.raw for c in counts] == [600 * 599 // 2, 1200 * 1199 // 2]
    assert all(c.kept < 0.05 * c.raw for c in counts), counts
    assert peaks[1] < 2.5 * peaks[0], peaks
    assert whole > 10 * peaks[1], (whole, peaks)


def test_the_low_detail_pairs_are_merged_as_by_one_sort() -> None:
    """The kept candidates, sorted, take the few low-detail layout pairs without a second sort of all of them:
    where a pair is in both, the better row (the candidate's on a tie), as ``candidates.merged`` picks it."""
    from imgtwin.matching.candidates import FLAT, best_per_pair, merged

    rng = np.random.default_rng(3)
    m, n = 5000, 400
    cand = best_per_pair(rng.integers(0, n, m), rng.integers(0, n, m), rng.integers(0, 11, m),
                         rng.integers(0, 8, m), rng.integers(0, 3, m))
    pick = rng.choice(len(cand.i), 300, replace=False)
    fi, fj = np.concatenate([cand.j[pick], rng.integers(0, n, 300)]), np.concatenate([cand.i[pick], rng.integers(0, n, 300)])
    apart = fi != fj
    fi, fj = fi[apart], fj[apart]
    flat = Candidates(fi, fj, rng.integers(0, 11, len(fi)).astype(np.int16), np.zeros(len(fi), np.int8),
                      np.full(len(fi), FLAT, np.int8))
    flat = best_per_pair(flat.i, flat.j, flat.distance, flat.transform, flat.kind)
    expected = merged(cand, flat)
    assert same(stream._with_flat(cand, flat, n), expected)
    assert (expected.kind == FLAT).sum() > 300 and len(expected.i) > len(cand.i)
