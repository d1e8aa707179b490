"""Pixels where they decide: the main image of every file in a candidate pair, before anything is grouped.

The scan answers most files of a camera library from their embedded previews
(``loading.previews``). Previews can lie (stale after an edit, copied from
another file), so ``find`` never groups a file on its preview: it looks for
candidate pairs over everything indexed, with a search radius ``PREVIEW_MARGIN``
bits wider than matching's own, and decodes the main image of every file with a
preview in such a pair (byte copies once: ``processing.copies``). The rows are
replaced in the index, so the next ``find`` does not decode them again; matching
then sees main-image rows only (``matching.indexed.load_rows``), as with
``--no-previews``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from imgtwin.loading.strips import StripStore
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.near import NearParams, candidate_pairs, with_flat_candidates
from imgtwin.matching.straighten import straightened_candidates
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.lock import IndexWriteLock
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.records import ProcessingSummary
from imgtwin.runs.context import RunContext
from imgtwin.runs.scan import ScanSettings, opened_engine

#: Bits added to the search radius for pairs that involve a preview. A preview's pHash equals its main
#: image's for most files (207 of 273 on the camera library), is within 2 bits for 96 %, and within 8
#: for letterboxed ones (a 160 x 90 preview of a 16:9 photo); the rotated and cropped hashes of a
#: candidate need less room, and each bit there adds many pairs (docs/benchmarks.md, issue 23).
PREVIEW_MARGIN = 4
PREVIEW_MARGIN_DERIVED = 2


def preview_candidates(previews: Sequence[bool] | np.ndarray, table: FeatureTable | HashTable,
                       params: NearParams) -> list[int]:
    """The rows hashed from a preview that are in a candidate pair with any row, at the widened radius."""
    flags = np.asarray(previews, dtype=bool)
    if not flags.any() or len(flags) < 2:
        return []
    radius = params.threshold + params.extension
    crop = min(63, params.crop_threshold + PREVIEW_MARGIN_DERIVED) if params.crop_threshold else 0
    cand = with_flat_candidates(table, candidate_pairs(
        table, min(63, radius + PREVIEW_MARGIN), params.rotations, min(63, radius + PREVIEW_MARGIN_DERIVED), crop))
    pairs = [cand.i, cand.j]
    if params.straight_threshold > 0 and params.crop_threshold > 0:  # straightened copies (matching.straighten)
        turned = straightened_candidates(table, min(63, min(params.straight_threshold, params.crop_threshold)
                                                    + PREVIEW_MARGIN_DERIVED))  # fmt: skip
        pairs += [turned.i, turned.j]
    ends = np.concatenate(pairs).astype(np.int64)
    return [int(k) for k in np.unique(ends) if flags[k]]


def decode_main_images(settings: ScanSettings, paths: Sequence[str], run: RunContext,
                       strips: StripStore | None = None) -> ProcessingSummary | None:
    """Decode ``paths`` from their main images into the index (``settings``: its workers, limits, scheduler);
    ``strips``: where to keep the rows the keeper's checks will want (``loading.strips``; local workers only)."""
    if not paths:
        return None
    main = replace(settings, options=replace(settings.options, previews=False))
    config = main.options.processing_config(progress=run.shows_progress)
    with opened_engine(main, strips) as engine, IndexWriteLock(main.db_path):
        return engine.process_files(paths, config, run.pass_reporter("Decoding candidates"),
                                    SqliteHashPersistence(main.db_path), run.cancel)
