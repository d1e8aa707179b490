"""The matching features of many images at once: what ``compute_features`` does, a chunk at a time.

Why: on tiny files (thumbnail caches, web archives: 3-9 KB JPEGs) the features cost more than the
decode, and almost all of it was numpy's fixed cost per call (a median, a sort, a 16 x 16 colour
conversion, each a few microseconds of set-up for a few hundred numbers). Here each step is one call
for the whole chunk: the DCTs of all thumbnails in one stacked matmul, all medians and colour
conversions in one, and the border scan's first look (the two outer lines of each side, where
almost every picture already shows it has no border) for all pictures of one size together. Only
the pictures that may have a border go through ``trim_box`` one by one. The values are the same as
one image at a time, bit for bit: the same arithmetic on the same numbers (``tests/hashing``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from imgtwin.hashing.dct import DCTHasher, threshold_bits
from imgtwin.hashing.features import (
    _BASIS,
    _TRIM_MAX,
    _TRIM_MIN_LINES,
    COLOUR_THUMB,
    LINEAR_LEVELS,
    UNSTABLE_MARGIN,
    MatchFeatures,
    _median,
    _uniform_rows,
    flat_percents,
    linear_to_lab,
    trim_box,
)
from imgtwin.hashing.stack import arrays, stacked

Box = tuple[int, int, int, int]


def compute_features_many(images: Sequence[Image.Image], hasher: DCTHasher | None = None,
                          colours: Sequence[Image.Image | None] | None = None,
                          pixels: Sequence[np.ndarray] | None = None) -> list[MatchFeatures]:  # fmt: skip
    """``compute_features`` of each image (grayscale, <= 512 px) and its small colour copy (or None).

    ``pixels``: each image's ``grey_pixels``, where the caller has them already (a conversion each less).
    """
    hasher = hasher or DCTHasher()
    colours = colours if colours is not None else [None] * len(images)
    if not images:
        return []
    grey = [image if image.mode in ("L", "F") else image.convert("L") for image in images]
    pixels = pixels if pixels is not None else grey_pixels_many(grey)
    prepared = hasher.prepare_many(grey, pixels=pixels)
    blocks = hasher.low_frequencies(prepared)
    full_hashes = _hash_values(blocks)
    full_thumbs = _thumbs(prepared)
    boxes = trim_boxes(pixels)
    thumbs = full_thumbs.copy()
    trims: list[tuple[float, float, float, float]] = []
    fulls: list[bytes | None] = []
    for k, (box, image, shape) in enumerate(zip(boxes, grey, (p.shape for p in pixels), strict=True)):
        left, top, right, bottom = box
        height, width = shape
        if right - left < 8 or bottom - top < 8 or box == (0, 0, width, height):
            trims.append((0.0, 0.0, 1.0, 1.0))
            fulls.append(None)
            continue
        thumbs[k] = _thumbs(hasher.prepare(image.crop(box))[None])[0]
        # Quantised as stored, so that from_bytes(to_bytes(f)) == f.
        quantised = [round(v * 65535) / 65535 for v in (left / width, top / height, right / width, bottom / height)]
        trims.append((quantised[0], quantised[1], quantised[2], quantised[3]))
        fulls.append(full_thumbs[k].tobytes())
    trim_hashes = _hash_values(_BASIS @ thumbs.astype(np.float64) @ _BASIS.T)
    labs = lab_thumbs(colours)
    unstable = _unstable(blocks)
    flat = flat_percents(full_thumbs)
    return [MatchFeatures(int(full_hashes[k]), int(trim_hashes[k]), thumbs[k].tobytes(), trims[k], fulls[k], labs[k],
                          int(unstable[k]), int(flat[k])) for k in range(len(grey))]


def grey_pixels(image: Image.Image) -> np.ndarray:
    """The (h, w) uint8 array of a grey (L) or high-depth (F) picture, as the border and frame scans read it."""
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def grey_pixels_many(images: Sequence[Image.Image]) -> list[np.ndarray]:
    """``grey_pixels`` of each picture, those of one size copied out of Pillow together (``hashing.stack``)."""
    return arrays([image if image.mode == "L" else image.convert("L") for image in images])


def _hash_values(blocks: np.ndarray) -> np.ndarray:
    """pHash bits of (n, N, N) blocks as uint64, as ``DCTHasher.hash_block`` (first bit most significant)."""
    bits = blocks.shape[-1] * blocks.shape[-2]
    weights = np.left_shift(np.uint64(1), np.arange(bits - 1, -1, -1, dtype=np.uint64))
    result: np.ndarray = np.where(threshold_bits(blocks), weights, np.uint64(0)).sum(axis=-1, dtype=np.uint64)
    return result


def _unstable(blocks: np.ndarray) -> np.ndarray:
    """``unstable_bits`` of (n, 8, 8) blocks."""
    flat = blocks.reshape(len(blocks), -1)
    result: np.ndarray = np.count_nonzero(np.abs(flat - np.median(flat, axis=1, keepdims=True)) < UNSTABLE_MARGIN, axis=1)
    return result


def _thumbs(prepared: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.clip(np.rint(prepared), 0, 255).astype(np.uint8)
    return result


def lab_thumbs(colours: Sequence[Image.Image | None]) -> list[bytes | None]:
    """a* and b* (CIELAB, D65) of each whole picture at 16 x 16, as int8 bytes (None: no colour copy)."""
    present = [k for k, colour in enumerate(colours) if colour is not None]
    found: list[bytes | None] = [None] * len(colours)
    if not present:
        return found
    small = stacked([_rgb(colours[k]).resize(  # type: ignore[arg-type]
        (COLOUR_THUMB, COLOUR_THUMB), Image.Resampling.BOX) for k in present])
    # The whole stack in one call gives each picture's numbers bit for bit: the matrix product of an
    # (n, 16, 16, 3) stack is the same (16, 3) x (3, 3) product per row of pictures (tests/hashing).
    lab = linear_to_lab(LINEAR_LEVELS[small])  # srgb_to_lab(small / 255.0), the same numbers
    ab = np.clip(np.rint(lab[..., 1:]), -127, 127).astype(np.int8)
    planes = np.ascontiguousarray(np.moveaxis(ab, -1, 1))
    for k, plane in zip(present, planes, strict=True):
        found[k] = plane.tobytes()
    return found


def _rgb(colour: Image.Image) -> Image.Image:
    """The colour copy in RGB (the loader's is already: no copy of it made)."""
    return colour if colour.mode == "RGB" else colour.convert("RGB")


def trim_boxes(pixels: Sequence[np.ndarray]) -> list[Box]:
    """``trim_box`` of each (h, w) uint8 picture; the pictures that show no border on any side skip it."""
    boxes: list[Box | None] = [None] * len(pixels)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for k, p in enumerate(pixels):
        by_shape.setdefault(p.shape, []).append(k)
    for (height, width), members in by_shape.items():
        stack = np.stack([pixels[k] for k in members])
        maybe = np.zeros(len(members), dtype=bool)
        for lines, size in ((stack, height), (stack[:, ::-1], height), (stack.transpose(0, 2, 1), width),
                            (stack.transpose(0, 2, 1)[:, ::-1], width)):
            if int(size * _TRIM_MAX) >= _TRIM_MIN_LINES:
                # features._border_lines' first test, for the whole stack: where it fails, that side has no border.
                reference = _median(lines[:, 0])
                maybe |= _uniform_rows(lines[:, :_TRIM_MIN_LINES], np.asarray(reference)[:, None, None]).all(axis=1)
        for k, border in zip(members, maybe, strict=True):
            boxes[k] = trim_box(pixels[k]) if border else (0, 0, width, height)
    return [box for box in boxes if box is not None]
