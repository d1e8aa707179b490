"""A low-detail picture with structure is matched turned or mirrored where its structure agrees turned; a
featureless one only upright (``matching.colour.low_detail_agreement``): small real images made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from imgtwin.hashing.features import DIHEDRAL_NAMES, compute_features
from imgtwin.matching.colour import low_detail_agreement
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo


def _misty() -> Image.Image:
    """A real photo at an eighth of its contrast: low-detail (its hash bits are half noise), not featureless."""
    return ImageEnhance.Contrast(shared_photo(17, 600)).enhance(0.12)


def test_a_misty_photo_and_its_flips_are_one_group(tmp_path: Path) -> None:
    misty = _misty()
    features = compute_features(misty)
    assert features.low_detail and not features.featureless
    misty.save(tmp_path / "misty.jpg", quality=92)
    misty.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(tmp_path / "flipped.jpg", quality=90)
    misty.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "mirrored.png")
    (group,) = find_duplicates([str(tmp_path)], db_path=str(tmp_path / "i.db")).groups
    words = {os.path.basename(m.path): m.transform for m in group.members}
    assert words == {"misty.jpg": None, "flipped.jpg": "flip", "mirrored.png": "mirror"}


def test_turned_low_detail_pictures_need_structure_and_never_a_featureless_one() -> None:
    misty = np.asarray(_misty().convert("L").resize((32, 32), Image.Resampling.BOX), dtype=np.uint8)
    flipped = misty[::-1, :].copy()
    colour = np.zeros((1, 2, 16, 16), np.int8)
    g = np.array([DIHEDRAL_NAMES.index("mirror_v")])

    def agree(structure: bool, featureless: bool) -> bool:
        return bool(low_detail_agreement(misty[None], flipped[None], colour, colour, g, np.array([structure]),
                                         np.array([False]), np.array([featureless]))[0])

    assert agree(structure=True, featureless=False)
    assert not agree(structure=False, featureless=False)  # the structure must agree as it stands turned
    assert not agree(structure=True, featureless=True)  # a gradient turned is another gradient
