"""Where a file's picture lies inside its frame, found on the deep pass's own decode (issue 24).

Two screenshots of *different* photos in one app share the status bar, the
title bar, the buttons and the caption; keypoints match there, and the
matches fit a transform as well as a copy's do.  A fit is therefore judged
again on the inliers inside both files' pictures (``matching.content``), and
the picture must be found finely enough to leave the caption under a photo
and the title bar right above it out: the 32 x 32 thumbnail merges them with
the photo.  This looks at the detection image (``hashing.local``, about 270 x
600 pixels for a phone screenshot), where it costs a fraction of a
millisecond, and the box is stored with the keypoints.

An app's screen, a border and letterboxing are stacked *bands*: rows (and,
beside a narrow picture, columns) that are one flat colour, with sparse text,
icons or buttons on them.  A row is frame when its most common grey (within
``FLAT_LEVELS``) covers ``BAND`` of it (bars, gaps, margins), or ``MARKS`` of
it where that grey is a band's colour (a caption's or toolbar's text on the
background).  The frame is the rows from the top and from the bottom edge up
to the first row that is not frame; the picture lies between them, however
flat some of its own rows are (a sky, a sticker's band).  A file has a frame
only where frame rows lie on both sides of its picture (or frame columns, at
the picture's rows): a photo whose sky is flat at the top is all picture.
"""

from __future__ import annotations

import numpy as np

#: Grey levels within which pixels have one flat colour (JPEG noise on a flat background is 1-2 levels).
FLAT_LEVELS = 2
#: A row (column) is a bar, a gap or a margin when its commonest grey covers this share of it.  Measured on
#: detection images: app bars and backgrounds 0.84-1.00 (status text, titles); rows of photos up to 0.56
#: (bright, soft skies), except flat drawn or clipped skies, which are trimmed with the frame or kept inside.
BAND = 0.8
#: ... and a row of text or icons on a band's colour when that colour covers this share (captions 0.67-0.76).
MARKS = 0.6

Box = tuple[int, int, int, int]


def picture_box(pixels: np.ndarray) -> Box | None:
    """The picture of a grey image as ``(left, top, right, bottom)`` pixels; None: it has no frame (see the
    module doc), it is all picture."""
    height, width = pixels.shape
    top, bottom = _inner_run(pixels)
    if top >= bottom:
        return None
    left, right = _inner_run(pixels[top:bottom].T)
    rows_framed = top > 0 and bottom < height
    columns_framed = left > 0 and right < width and left < right
    if not rows_framed and not columns_framed:
        return None
    if not columns_framed:
        left, right = 0, width
    if not rows_framed:
        top, bottom = 0, height
    return left, top, right, bottom


def _inner_run(pixels: np.ndarray) -> tuple[int, int]:
    """``(first, end)``: the rows of ``pixels`` between the frame rows at the top and at the bottom."""
    share, colour = _flat_share(pixels)
    band = share >= BAND
    colours = np.unique(colour[band])
    near_band = (np.abs(colour[:, None].astype(np.int16) - colours[None, :].astype(np.int16)) <= FLAT_LEVELS).any(1)
    frame = band | ((share >= MARKS) & near_band)
    if frame.all():
        return 0, 0
    inner = np.flatnonzero(~frame)
    return int(inner[0]), int(inner[-1]) + 1


def _flat_share(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the largest share of it within ``FLAT_LEVELS`` of one grey, and that grey."""
    rows, width = pixels.shape
    counts = np.bincount((pixels.astype(np.int64) + 256 * np.arange(rows)[:, None]).ravel(),
                         minlength=256 * rows).reshape(rows, 256)  # fmt: skip
    window = 2 * FLAT_LEVELS + 1
    cumulative = np.cumsum(np.pad(counts, ((0, 0), (window, 0))), axis=1)
    within = cumulative[:, window:] - cumulative[:, :-window]  # [r, g]: pixels of row r in the 5 greys up to g
    best = within.argmax(axis=1)
    return within[np.arange(rows), best] / max(width, 1), np.clip(best - FLAT_LEVELS, 0, 255)
