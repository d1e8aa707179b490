"""Where a file's picture lies inside its frame, found on the deep pass's own decode (issue 24).

Two screenshots of *different* photos in one app share the status bar, the
title bar, the buttons and the caption; keypoints match there, and the
matches fit a transform as well as a copy's do.  A fit is therefore judged
again on the inliers inside both files' pictures (``matching.content``), and
the picture must be found finely enough to leave the caption under a photo
and the title bar right above it out: the 32 x 32 thumbnail merges them with
the photo.  This looks at the detection image (``hashing.local``, about 270 x
600 pixels for a phone screenshot) and the box is stored with the keypoints:
a plain photo costs its four edge lines, a framed file a pass over its rows
and columns, at most a sixth of its ORB features' time (docs/benchmarks.md).

An app's screen, a border and letterboxing are stacked *bands*: runs of
rows (and, beside a narrow picture, of columns) whose commonest grey (within
``FLAT_LEVELS``) covers ``MARKS`` of them.  Walking in from an edge, a band is
frame when it lies at the edge, when it has the colour of a frame band nearer
an edge (the background between bars, captions and gaps), or when it carries
text or icons (a title bar of its own colour): marks of strong contrast that
do not touch the row's ends.  The first band that is none of these, or the
first row that is no band, is picture: a photo's flat sky or wall beside an
app's bars or a border is no frame, however flat.  A file has a frame only
where frame rows lie on both sides of its picture (or frame columns, at the
picture's rows): a photo whose sky is flat at the top is all picture.
"""

from __future__ import annotations

import numpy as np

#: Grey levels within which pixels have one flat colour (JPEG noise on a flat background is 1-2 levels).
FLAT_LEVELS = 2
#: A row (column) is a band when its commonest grey covers this share of it.  Measured on detection images:
#: app bars, gaps and margins 0.84-1.00, rows of captions and toolbars 0.67-0.76; rows of photos up to 0.56
#: (soft skies), more for flat walls and drawn skies, which the walk from the edge leaves in the picture.
MARKS = 0.6
#: Text and icons: pixels this many grey levels off the band's colour, at least ``MARK_SHARE`` of the row.
MARK_LEVELS = 48
MARK_SHARE = 0.01
#: A band of its own colour this thin (rows) between frame bands is frame too.
THIN = 2

Box = tuple[int, int, int, int]


def picture_box(pixels: np.ndarray) -> Box | None:
    """The picture of a grey image as ``(left, top, right, bottom)`` pixels; None: it has no frame (see the
    module doc), it is all picture."""
    height, width = pixels.shape
    if height < 2 or width < 2 or not (_bands(np.stack([pixels[0], pixels[-1]]))[0] >= MARKS).any() and not (
            _bands(np.stack([pixels[:, 0], pixels[:, -1]]))[0] >= MARKS).any():  # fmt: skip
        return None  # no band at any edge: the common case, a plain photo, at the cost of four lines
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
    share, colour, marked = _bands(pixels[:, ::2])  # every other pixel of a row: the same bands, half the work
    band = share >= MARKS
    edges = [int(colour[k]) for k in (0, -1) if band[k]]  # the background's colours, met again further in
    first = _frame_depth(band, colour, marked, list(edges))
    end = len(band) - _frame_depth(band[::-1], colour[::-1], marked[::-1], list(edges))
    return (first, end) if first < end else (0, 0)


def _frame_depth(band: np.ndarray, colour: np.ndarray, marked: np.ndarray, colours: list[int]) -> int:
    """How many rows from the start are frame: bands at the edge, of a frame colour, or with marks on them,
    and thin lines of their own between them (a separator, a row where the resampling blends two bars)."""
    k, rows = 0, len(band)
    while k < rows and band[k]:
        end = _block_end(band, colour, k)
        if not (k == 0 or _is_frame(k, end, colour, marked, colours)):
            if end - k > THIN or end >= rows or not band[end]:
                break
            if not _is_frame(end, _block_end(band, colour, end), colour, marked, colours):
                break
        colours.append(int(colour[k]))
        k = end
    return k


def _block_end(band: np.ndarray, colour: np.ndarray, start: int) -> int:
    """The end of the run of band rows from ``start`` that have its colour."""
    end = start
    while end < len(band) and band[end] and abs(int(colour[end]) - int(colour[start])) <= FLAT_LEVELS:
        end += 1
    return end


def _is_frame(start: int, end: int, colour: np.ndarray, marked: np.ndarray, colours: list[int]) -> bool:
    return bool(marked[start:end].any()) or any(abs(int(colour[start]) - c) <= FLAT_LEVELS for c in colours)


def _bands(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the largest share of it within ``FLAT_LEVELS`` of one grey, that grey, and whether it holds
    marks (``MARK_LEVELS`` off that grey, not touching the row's ends as a margin or a border does)."""
    rows, width = pixels.shape
    counts = np.bincount((pixels.astype(np.int64) + 256 * np.arange(rows)[:, None]).ravel(),
                         minlength=256 * rows).reshape(rows, 256)  # fmt: skip
    window = 2 * FLAT_LEVELS + 1
    cumulative = np.cumsum(np.pad(counts, ((0, 0), (FLAT_LEVELS + 1, FLAT_LEVELS))), axis=1)
    within = cumulative[:, window:] - cumulative[:, :-window]  # [r, g]: pixels of row r within the levels of g
    colour = counts.argmax(axis=1)
    strong = np.abs(pixels.astype(np.int16) - colour[:, None]) >= MARK_LEVELS
    # the strong pixels that touch the row's ends (a margin, a border) are no marks
    lead, trail = np.argmin(strong, axis=1), np.argmin(strong[:, ::-1], axis=1)
    inner = np.where(strong.all(axis=1), 0, strong.sum(axis=1) - lead - trail)
    marked = inner >= MARK_SHARE * width
    return within[np.arange(rows), colour] / max(width, 1), colour, marked
