"""Candidates among low-detail pictures, found by tone and colour instead of by hash.

A low-detail picture's hash bits are mostly noise (``MatchFeatures.low_detail``),
so two copies of one blank page can be 20 bits apart and the radius search
never proposes them: only about 6 in 10 were found. Here every low-detail
picture is put in a cell of a coarse 3-D grid (mean grey level, mean a*, mean
b*) and compared with the pictures of its own and the 26 neighbouring cells;
``colour.pixel_agreement`` then decides. No loop over all pairs: a cell holds
pictures of one tone and colour, and each picture is compared with at most
``MAX_NEIGHBOURS`` of them, nearest first by its layout (grey and colour of a
4 x 4 grid), so that where thousands share a tone (black frames, blank pages of
a large collection) the candidates stay linear in the number of pictures and
a copy, whose layout is its original's, is among the first.
"""

from __future__ import annotations

import itertools

import numpy as np

# Cell sizes: grey levels (0-255) and CIELAB a*/b* units. Copies of one flat
# picture differ by a grey level or two and a colour unit or two; a cell three
# to five times that wide, with its neighbours, never splits them.
GREY_CELL = 8.0
COLOUR_CELL = 5.0
# Copies of one picture are its nearest layouts; 24 covers a picture with many near copies.
# 256 (compared by mean tone alone) made 3.3 million candidates of 200,000 small tiles, most of
# find's time there; 24 by layout gives the same pairs on the flat set and the medium corpus.
MAX_NEIGHBOURS = 24
LAYOUT_CELLS = 4

_FORWARD = [d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0)]


def flat_candidates(thumbs: np.ndarray, colour: np.ndarray, low_detail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of low-detail pictures close in tone and colour (indices into the table)."""
    members = np.flatnonzero(low_detail)
    return flat_pairs(members, *flat_descriptors(thumbs[members], colour[members]))


def flat_descriptors(thumbs: np.ndarray, colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per picture, its tone and colour in cell units (3) and its layout (:func:`_layout`): each picture's own
    numbers, so that they may be computed a block of pictures at a time (``near.with_flat_candidates``)."""
    n = len(thumbs)
    grey = thumbs.reshape(n, -1).mean(axis=1)
    ab = colour.reshape(n, 2, -1).mean(axis=2)
    return np.column_stack([grey / GREY_CELL, ab / COLOUR_CELL]).reshape(n, 3), _layout(thumbs, colour)


def flat_pairs(members: np.ndarray, descriptor: np.ndarray, layout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of ``members`` (rows of the table) close in tone and colour, from their descriptors."""
    if len(members) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    cells = np.floor(descriptor).astype(np.int64)
    by_cell: dict[tuple[int, int, int], list[int]] = {}
    for position, key in enumerate(map(tuple, cells.tolist())):
        by_cell.setdefault(key, []).append(position)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    for key, inside in by_cell.items():
        here = np.asarray(inside)
        others = [here]
        for step in _FORWARD:
            neighbour = by_cell.get((key[0] + step[0], key[1] + step[1], key[2] + step[2]))
            if neighbour:
                others.append(np.asarray(neighbour))
        there = np.concatenate(others)
        a, b = _nearest_pairs(layout, here, there)
        left.append(a)
        right.append(b)
    a, b = np.concatenate(left), np.concatenate(right)
    i, j = members[np.minimum(a, b)], members[np.maximum(a, b)]
    keep = i != j
    pairs = np.unique(np.column_stack([i[keep], j[keep]]), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _layout(thumbs: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Grey level and a*/b* of a ``LAYOUT_CELLS`` square grid, in cell units: where a picture's tone lies."""
    n, grid = len(thumbs), LAYOUT_CELLS
    side, colour_side = thumbs.shape[-1] // grid, colour.shape[-1] // grid
    grey = thumbs.astype(np.float32).reshape(n, grid, side, grid, side).mean(axis=(2, 4))
    ab = colour.astype(np.float32).reshape(n, 2, grid, colour_side, grid, colour_side).mean(axis=(3, 5))
    return np.column_stack([grey.reshape(n, -1) / GREY_CELL, ab.reshape(n, -1) / COLOUR_CELL]).reshape(n, -1)


def _nearest_pairs(descriptor: np.ndarray, here: np.ndarray, there: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each picture of ``here`` with its ``MAX_NEIGHBOURS`` nearest of ``there`` (positions into ``descriptor``).

    In blocks of rows, so that a cell of ten thousand pictures needs a few MB, not a square matrix.
    """
    count = min(MAX_NEIGHBOURS + 1, len(there))
    left, right = [], []
    for start in range(0, len(here), 512):
        rows = here[start : start + 512]
        if count == len(there):
            nearest = np.broadcast_to(np.arange(len(there)), (len(rows), len(there)))
        else:
            distance = np.linalg.norm(descriptor[rows][:, None, :] - descriptor[there][None, :, :], axis=2)
            nearest = np.argpartition(distance, count - 1, axis=1)[:, :count]
        left.append(np.repeat(rows, nearest.shape[1]))
        right.append(there[nearest.ravel()])
    return np.concatenate(left), np.concatenate(right)
