"""Low-detail candidates: a copy is found among many pictures of one tone, and their number stays linear."""

from __future__ import annotations

import numpy as np

from imgtwin.hashing.features import COLOUR_THUMB, THUMB
from imgtwin.matching.flat import MAX_NEIGHBOURS, flat_candidates


def blank_pages(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """White pages, each with one small grey mark somewhere else: one mean tone, different layouts."""
    thumbs = np.full((count, THUMB, THUMB), 245, dtype=np.uint8)
    for k in range(count):
        y, x = divmod(int(rng.integers(0, (THUMB - 4) ** 2)), THUMB - 4)
        thumbs[k, y : y + 4, x : x + 4] = 120
    colour = np.zeros((count, 2, COLOUR_THUMB, COLOUR_THUMB), dtype=np.int8)
    return thumbs, colour


def test_a_copy_is_found_among_many_pages_of_one_tone_and_candidates_stay_linear() -> None:
    rng = np.random.default_rng(7)
    thumbs, colour = blank_pages(2000, rng)
    copy = np.clip(thumbs[0].astype(np.int16) + rng.integers(-2, 3, thumbs[0].shape), 0, 255).astype(np.uint8)
    thumbs = np.concatenate([thumbs, copy[None]])  # a re-encoded copy of page 0, index 2000
    colour = np.concatenate([colour, colour[:1]])
    i, j = flat_candidates(thumbs, colour, np.ones(len(thumbs), dtype=bool))
    pairs = set(zip(i.tolist(), j.tolist()))
    assert (0, 2000) in pairs
    assert len(pairs) <= MAX_NEIGHBOURS * len(thumbs)  # not the 2 million pairs of one crowded cell


def test_only_low_detail_pictures_take_part() -> None:
    thumbs, colour = blank_pages(10, np.random.default_rng(1))
    low = np.zeros(10, dtype=bool)
    low[[2, 5]] = True
    i, j = flat_candidates(thumbs, colour, low)
    assert set(zip(i.tolist(), j.tolist())) <= {(2, 5)}
