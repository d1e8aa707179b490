"""A mirror image of most of its group is not kept over the photo (``matching.evidence.mirrored_minority``, the
content tier of ``matching.keeper``): small real images made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from imgtwin.matching.evidence import mirrored_minority
from imgtwin.matching.grouping import Matches
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo


def _matches(pairs: list[tuple[int, int, str]]) -> Matches:
    i, j, t = zip(*pairs)
    return Matches(np.array(i), np.array(j), np.zeros(len(i), np.int64), tuple(t))


def test_the_mirror_image_of_most_of_a_group_is_the_minority() -> None:
    matches = _matches([(0, 1, "mirror_h"), (0, 2, "identity"), (2, 3, "crop 12%"), (1, 4, "mirrored, crop 8%")])
    assert mirrored_minority(6, matches, [-1] * 6) == {1}
    # Two files: either may be the photo. Two byte copies of the mirror image count as one picture.
    assert mirrored_minority(2, _matches([(0, 1, "mirror_h")]), [-1, -1]) == set()
    assert mirrored_minority(4, _matches([(0, 1, "mirror_h"), (0, 2, "mirror_h"), (0, 3, "identity")]),
                             [-1, 5, 5, -1]) == {1, 2}
    # A symmetric picture matched as itself and as its mirror image: its orientations are unknown.
    assert mirrored_minority(4, _matches([(0, 1, "mirror_h"), (0, 2, "identity"), (1, 2, "identity")]),
                             [-1] * 4) == set()
    # A left-right and an upside-down flip of one photo: three orientations of one picture each, none the most.
    assert mirrored_minority(3, _matches([(0, 1, "mirror_h"), (0, 2, "mirror_v"), (1, 2, "rotate180")]),
                             [-1] * 3) == set()
    # A fit that turned a picture by a quarter: its words do not say which way; nothing is decided.
    assert mirrored_minority(4, _matches([(0, 1, "mirror_h"), (0, 2, "identity"), (2, 3, "rotated 90°")]),
                             [-1] * 4) == set()
    # Turned, not mirrored: a rotate90 and a transpose are mirror images of each other.
    assert mirrored_minority(4, _matches([(0, 1, "rotate90"), (0, 2, "identity"), (1, 3, "transpose")]),
                             [-1] * 4) == {3}


def test_the_photo_is_kept_over_its_mirror_image_of_better_jpeg_quality(tmp_path: Path) -> None:
    """The mirrored copy was saved at a higher JPEG quality (it would win on the quality tier); the photo's other
    copy keeps its orientation: the photo is kept."""
    original = shared_photo(3, 1000)
    original.save(tmp_path / "photo.jpg", quality=80)
    original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "flipped.jpg", quality=95)
    small = original.resize((original.width * 3 // 5, original.height * 3 // 5), Image.Resampling.LANCZOS)
    small.save(tmp_path / "shared.jpg", quality=95)
    (group,) = find_duplicates([str(tmp_path)], db_path=str(tmp_path / "i.db")).groups
    assert sorted(os.path.basename(m.path) for m in group.members) == ["flipped.jpg", "photo.jpg", "shared.jpg"]
    assert [os.path.basename(m.path) for m in group.members if m.keep] == ["photo.jpg"]
