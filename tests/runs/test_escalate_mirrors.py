"""The escalation's group pairs leave out mirror images (``matching.escalate._group_pairs``): the two files'
local features cannot verify them, so their files are not decoded again for it (the mirror image's features
are, for ``escalate.mirrored_matches``). Small real images made here."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from imgtwin.hashing.local import extract_local
from imgtwin.matching.deep import LocalTable, verify_candidates
from imgtwin.matching.deep_extra import LOCAL_SPEC
from imgtwin.matching.escalate import _group_pairs
from imgtwin.persistence.sqlite import read_rows
from imgtwin.runs.find import find_duplicates
from tests.helpers import cropped, shared_photo, straightened


def test_a_mirror_image_and_a_straightened_copy_do_not_fit_on_local_features() -> None:
    """The pair the rule leaves out is one the verifier rejects anyway."""
    original = shared_photo(1, 800)
    mirror = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    features = [extract_local(im) for im in (original, straightened(original, 4.0), mirror)]
    fits = verify_candidates(LocalTable.build(features), np.array([0, 2]), np.array([1, 1]))
    assert fits[0] is not None and fits[1] is None


def test_group_pairs_leave_out_the_pairs_whose_matches_mirror() -> None:
    # 0 ~ 1 mirrored, 0 ~ 2 upright, 2 ~ 3 mirrored: 1 and 3 are upright to each other, 1 and 2 and 0 and 3 not.
    known = {(0, 1): True, (0, 2): False, (2, 3): True}
    assert _group_pairs(known, {0}) == [(1, 3)]
    # A symmetric picture matched as itself and as its mirror image: its orientation is unknown, all are asked.
    known[(1, 2)] = False
    assert _group_pairs(known, {0}) == [(0, 3), (1, 3)]
    assert _group_pairs({(0, 1): False, (1, 2): False}, {5}) == []  # no verified pair in the group


def test_the_default_find_groups_a_mirrored_and_a_hard_cropped_copy_decoding_the_mirror_mirrored_only(
        tmp_path: Path) -> None:  # fmt: skip
    """The crop is verified on local features with the original; the mirror image matches the original's
    thumbnails, so the group's closure would ask the mirror and the crop: not a question the mirror's own local
    features answer. Its mirror image's are computed instead (``escalate.mirrored_matches``), for it alone."""
    root = tmp_path / "library"
    root.mkdir()
    original = shared_photo(1, 1200)
    original.save(root / "original.jpg", quality=92)
    original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "mirrored.jpg", quality=88)
    cropped(original, 0.25, 0, 0, 0).save(root / "cropped.jpg", quality=88)
    db = str(tmp_path / "i.db")
    result = find_duplicates([str(root)], db_path=db)
    (group,) = result.groups
    assert sorted(os.path.basename(m.path) for m in group.members) == ["cropped.jpg", "mirrored.jpg", "original.jpg"]
    with sqlite3.connect(db) as conn:
        stored = {(r[0], r[1]) for r in conn.execute("SELECT content_hash, spec FROM local_features")}
    by_name = {os.path.basename(row["path"]): row["content_hash"] for row in read_rows(db)}
    assert stored == {(by_name["original.jpg"], LOCAL_SPEC.id), (by_name["cropped.jpg"], LOCAL_SPEC.id),
                      (by_name["mirrored.jpg"], replace(LOCAL_SPEC, mirrored=True).id)}
