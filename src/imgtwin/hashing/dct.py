"""The 64-bit DCT perceptual hash (pHash).

Definition (version 2), for ``hash_size`` N (default 8) and ``highfreq_factor`` F
(default 4), with M = N * F (32):

1. convert the image to 8-bit grayscale (Pillow mode ``L``, ITU-R 601-2 luma);
2. resize to M x M with Pillow's LANCZOS filter (aspect ratio is not kept);
3. take the 2-D DCT-II of the M x M float array: D = C X C^T with
   C[k, n] = cos(pi * (2n + 1) * k / (2M)) (unnormalised; scale does not matter);
4. keep the low-frequency N x N block D[:N, :N], DC term included, each
   coefficient rounded to 6 decimals (``TIE_DECIMALS``);
5. bit i (row-major over the block) is 1 when that coefficient is strictly
   greater than the median of the N x N block;
6. the N*N bits form an integer, first coefficient as the most significant bit,
   written as N*N/4 lower-case hex digits (16 for N = 8).

Why step 4 rounds (version 1 did not): on flat and symmetric pictures (a solid
colour, a blank page, a plain gradient) many coefficients are exactly zero in
exact arithmetic and so tie with the median; computed in floating point they
come out as +-1e-12 noise that differs between CPUs, BLAS builds and DCT
algorithms, and version 1's bits (like ``imagehash.phash``'s) were that noise.
Rounded, exact ties stay ties (bit 0) on every machine, while a change of one
grey level in one pixel still moves a coefficient by up to 1, far above the
rounding. So: fed the same M x M grayscale pixels, this gives the same bits as
``imagehash.phash`` except where coefficients tie with the median, where
imagehash's bits depend on floating-point rounding (scipy's DCT) and ours do not.

Hamming distance between two hashes measures how different two pictures look:
0 for the same look, a few bits for re-encodes and resizes, around 32 for
unrelated pictures. On low-detail pictures the bits that sit near the median
are unstable under any re-encode; ``hashing.features`` counts them and matching
never trusts a hash distance alone there.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
from PIL import Image

from imgtwin.hashing import resample
from imgtwin.hashing.stack import stacked
from imgtwin.records import HashSpec, ImageHash

#: Coefficients are rounded to this many decimals before thresholding (definition step 4).
TIE_DECIMALS = 6


def threshold_bits(blocks: np.ndarray) -> np.ndarray:
    """Steps 4-5 on (..., N, N) blocks: a bool (..., N * N) array, tie-stable (see the module doc)."""
    flat = np.round(blocks.reshape(*blocks.shape[:-2], -1), TIE_DECIMALS)
    return flat > np.median(flat, axis=-1, keepdims=True)


def dct_matrix(size: int) -> np.ndarray:
    """The unnormalised DCT-II basis as a ``size x size`` matrix."""
    n = np.arange(size)
    return np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * size))


class DCTHasher:
    """pHash: median-thresholded low frequencies of a 2-D DCT."""

    VERSION = 2  # 2: coefficients rounded before the median threshold (tie-stable)

    def __init__(self, hash_size: int = 8, highfreq_factor: int = 4) -> None:
        if hash_size < 2 or highfreq_factor < 1:
            raise ValueError("hash_size must be >= 2 and highfreq_factor >= 1")
        self.hash_size = hash_size
        self.highfreq_factor = highfreq_factor
        self.image_size = hash_size * highfreq_factor
        # Only the first N rows of the basis are needed for the N x N block.
        self._basis = dct_matrix(self.image_size)[:hash_size]
        self._weights = 1 << np.arange(hash_size * hash_size - 1, -1, -1, dtype=np.uint64)

    @cached_property
    def spec(self) -> HashSpec:
        return HashSpec(
            algorithm="dct",
            bits=self.hash_size * self.hash_size,
            params=f"{self.image_size}px-lanczos-v{self.VERSION}",
        )

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Steps 1-2: the M x M grayscale pixels as float64."""
        return np.asarray(self._resized(image), dtype=np.float64)

    def prepare_many(self, images: Sequence[Image.Image], pixels: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """``prepare`` of each image as one (n, M, M) stack. ``pixels``: each image's ``np.asarray``, where the
        caller has them: the grey pictures of one size are then resized together (``hashing.resample``, the
        same bytes as Pillow's); else each is resized alone and copied out together (``hashing.stack``)."""
        if pixels is None:
            smalls = [self._resized(image) for image in images]
            if all(small.mode == "L" for small in smalls):
                return stacked(smalls).astype(np.float64)
            return np.stack([np.asarray(small, dtype=np.float64) for small in smalls])
        size = (self.image_size, self.image_size)
        prepared = np.empty((len(images), *size))
        groups: dict[tuple[int, int], list[int]] = {}
        for k, image in enumerate(images):
            if image.mode == "L":
                groups.setdefault(image.size, []).append(k)
            else:
                prepared[k] = self.prepare(image)
        for members in groups.values():
            stack = np.stack([pixels[k] for k in members])
            prepared[members] = resample.RESIZER.resize([images[k] for k in members], stack, size, Image.Resampling.LANCZOS)
        return prepared

    def _resized(self, image: Image.Image) -> Image.Image:
        if image.mode not in ("L", "F"):  # F: high bit depth, kept as floats
            image = image.convert("L")
        return image.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)

    def low_frequencies(self, pixels: np.ndarray) -> np.ndarray:
        """Steps 3-4: the N x N low-frequency DCT block of M x M pixels."""
        result: np.ndarray = self._basis @ pixels @ self._basis.T
        return result

    def hash_block(self, block: np.ndarray) -> ImageHash:
        """Steps 4-6 on an N x N coefficient block."""
        bits = threshold_bits(block)
        value = int(np.sum(self._weights[bits], dtype=np.uint64))
        return ImageHash(value, self.spec)

    def hash(self, image: Image.Image) -> ImageHash:
        return self.hash_block(self.low_frequencies(self.prepare(image)))
