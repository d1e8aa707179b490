"""Mirror images in the groups local features joined are verified on one file's mirrored features
(``matching.escalate.mirrored_matches``): small real images made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from imgtwin.hashing.local import LocalSpec, extract_local
from imgtwin.matching.deep import LocalTable, verify_candidates
from imgtwin.matching.escalate import _mirror_pairs
from imgtwin.matching.grouping import mirrors
from imgtwin.options import MatchOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import cropped, shared_photo


def test_a_mirror_images_mirrored_features_fit_a_cropped_copy_of_the_photo() -> None:
    """ORB keeps the orientation: the mirror image's own features do not fit the crop, its mirrored ones do."""
    original = shared_photo(1, 800)
    mirror = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    crop = cropped(original, 0.25, 0, 0, 0)
    features = [extract_local(mirror), extract_local(mirror, LocalSpec(mirrored=True)), extract_local(crop)]
    plain, flipped = verify_candidates(LocalTable.build(features), np.array([0, 1]), np.array([2, 2]))
    assert plain is None and flipped is not None
    assert flipped.describe() == "crop 25%"
    assert LocalSpec(mirrored=True).id == LocalSpec().id + "-mirrored"


def test_mirror_pairs_are_the_pairs_across_a_groups_orientations_the_fewer_side_mirrored() -> None:
    # 0 ~ 1 mirrored, 0 ~ 2 and 0 ~ 3 upright: 1 is the one mirrored copy, asked against 2 and 3.
    known = {(0, 1): True, (0, 2): False, (0, 3): False}
    assert _mirror_pairs(known, {2}) == [(1, 2), (1, 3)]
    assert _mirror_pairs(known, {7}) == []  # no row of a group local features joined
    # A symmetric picture matched as itself and as its mirror image: orientations unknown, none asked.
    known[(1, 2)] = False
    assert _mirror_pairs(known, {2}) == []
    assert mirrors("mirror_h") and mirrors("mirrored, crop 12%") and not mirrors("rotate90")
    assert not mirrors("crop 12%") and not mirrors(None)


def test_a_cropped_copy_stays_in_the_group_of_a_mirrored_keeper(tmp_path: Path) -> None:
    """The mirrored copy is kept (it is in the reference folder); the cropped copy was matched on local features
    with the photo only, and is a copy of the keeper mirrored: it is in the group, and the words say so."""
    library, originals = tmp_path / "library", tmp_path / "originals"
    library.mkdir()
    originals.mkdir()
    original = shared_photo(1, 1200)
    original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(originals / "mirrored.jpg", quality=92)
    original.save(library / "photo.jpg", quality=92)
    cropped(original, 0.25, 0, 0, 0).save(library / "edited.jpg", quality=88)
    result = find_duplicates([str(library)], db_path=str(tmp_path / "i.db"),
                             match=MatchOptions(reference=(str(originals),)))
    (group,) = result.groups
    words = {os.path.basename(m.path): m.transform for m in group.members}
    assert set(words) == {"mirrored.jpg", "photo.jpg", "edited.jpg"}
    assert [os.path.basename(m.path) for m in group.members if m.keep] == ["mirrored.jpg"]
    assert words["edited.jpg"] == "mirrored, crop 25%"
