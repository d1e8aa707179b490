"""Hashes derived from the stored thumbnails at find time: crop hypotheses and dihedral variants.

``matching.near`` searches them within a radius of the other files' hashes (no decode: the 32 x 32
thumbnails the scan kept), derived while loading (``matching.hashtable``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imgtwin.hashing.features import _BASIS, THUMB, dihedral_blocks
from imgtwin.matching.packing import Packer, pack_hashes
from imgtwin.matching.verify import resampler

#: Crop hypotheses (left, top, right, bottom fractions cut) tried on every file:
#: on the benchmark corpus they bring 96 % of edge-cropped copies within 8 bits
#: of their original (plain hashes: 25 %) for ~1 extra candidate per file.
CROP_HYPOTHESES = (
    (0.04, 0.04, 0.04, 0.04),
    (0.08, 0.08, 0.08, 0.08),
    (0.08, 0.0, 0.0, 0.0),
    (0.0, 0.08, 0.0, 0.0),
    (0.0, 0.0, 0.08, 0.0),
    (0.0, 0.0, 0.0, 0.08),
)
#: Files whose derived (rotated, cropped) hashes are computed at once: their float64 thumbnails are
#: 8 KB per file, so a whole index at once cost gigabytes; per block it is a constant ~35 MB.
HASH_BLOCK = 4096


def crop_hashes(thumbs: np.ndarray, hypotheses: Sequence[tuple[float, float, float, float]] = CROP_HYPOTHESES,
                pack: Packer = pack_hashes) -> np.ndarray:  # fmt: skip
    """(n, len(hypotheses)) uint64: the pHash of each thumbnail cropped by each hypothesis (``pack``: the
    threshold step, ``features.hashes_of_blocks`` gives the same bits slower)."""
    thumbs = np.asarray(thumbs).reshape(-1, THUMB, THUMB)
    out = np.empty((len(thumbs), len(hypotheses)), dtype=np.uint64)
    bases = [(_BASIS @ resampler(THUMB, top, bottom), _BASIS @ resampler(THUMB, left, right))
             for left, top, right, bottom in hypotheses]
    for lo in range(0, len(thumbs), HASH_BLOCK):
        x = thumbs[lo : lo + HASH_BLOCK].astype(np.float64)
        for k, (rows, cols) in enumerate(bases):
            out[lo : lo + HASH_BLOCK, k] = pack(rows @ x @ cols.T)
    return out


def rotated_hashes(thumbs: np.ndarray, pack: Packer = pack_hashes) -> np.ndarray:
    """(n, 7) uint64: the trimmed pHash under each non-identity dihedral transform, per block of files."""
    out = np.empty((len(thumbs), 7), dtype=np.uint64)
    for lo in range(0, len(thumbs), HASH_BLOCK):
        out[lo : lo + HASH_BLOCK] = pack(dihedral_blocks(thumbs[lo : lo + HASH_BLOCK])[:, 1:])
    return out
