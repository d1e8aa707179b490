"""Which pairs the default ``find`` asks the local features about (``matching.escalate``, ``matching.partial``;
issue 24): a crop the thumbnail rules rejected as a whole is tried at its crop window; a pair another rule
already matched is asked about no more.  Small real photos, scanned and matched as ``find`` does."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from imgtwin.matching.near import NearParams, near_matches
from imgtwin.matching.partial import look_again, partial_pairs
from imgtwin.matching.stream import Judged
from imgtwin.runs.find import FindResult, find_duplicates
from tests.helpers import cropped, shared_photo, straightened
from tests.matching.test_layout import jpeg, table_of

#: Crops between the steps of the thumbnail rules' crop grid, each a candidate they reject as a whole.
CROPS = {33: (0.0, 0.07, 0.08, 0.1), 47: (0.0, 0.2, 0.0, 0.0), 52: (0.0, 0.2, 0.0, 0.0)}
OTHERS = (40, 41, 42)


def pairs(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist())}


def test_a_crop_the_thumbnails_rejected_is_tried_at_its_crop_window() -> None:
    """The crop is a candidate of the thumbnail rules, rejected (its alignment misses the cut); one of the crop
    hypotheses lies within a few bits and agrees cell by cell, so the local features decide it (main left
    every candidate of the thumbnail rules out of the crop hypotheses' pairs).  No other photo is asked about."""
    original = shared_photo(33, 1000)
    table = table_of([original, jpeg(cropped(original, *CROPS[33]), 85), *(shared_photo(k, 1000) for k in OTHERS)])
    judged: list[Judged] = []
    near_matches(table, NearParams(), judged, look_again(table))
    cand, ok = judged[0].cand, judged[0].ok
    assert (0, 1) in pairs(cand.i[~ok], cand.j[~ok])
    assert pairs(*partial_pairs(table, judged[0])) == {(0, 1)}


def group_of(result: FindResult) -> dict[str, int]:
    return {os.path.basename(m.path): g.id for g in result.groups for m in g.members}


def together(groups: dict[str, int], a: str, b: str) -> bool:
    return a in groups and groups.get(b) == groups[a]


@pytest.fixture(scope="module")
def crops_found(tmp_path_factory: pytest.TempPathFactory) -> FindResult:
    root = tmp_path_factory.mktemp("crops") / "library"
    root.mkdir()
    for k, cut in CROPS.items():
        original = shared_photo(k, 1000)
        original.save(root / f"original{k}.jpg", quality=92)
        cropped(original, *cut).save(root / f"crop{k}.jpg", quality=85)
    photo = shared_photo(5, 1200)  # two views of one scene, 45 % of a frame apart: different pictures
    cropped(photo, 0.0, 0.0, 0.45, 0.0).save(root / "left5.jpg", quality=90)
    cropped(photo, 0.45, 0.0, 0.0, 0.0).save(root / "right5.jpg", quality=90)
    for k in OTHERS:
        shared_photo(k, 1000).save(root / f"other{k}.jpg", quality=90)
    return find_duplicates([str(root)], db_path=str(tmp_path_factory.mktemp("crops-db") / "i.db"))


def test_crops_between_the_grids_steps_are_grouped_with_their_originals(crops_found: FindResult) -> None:
    groups = group_of(crops_found)
    for k in CROPS:
        assert together(groups, f"original{k}.jpg", f"crop{k}.jpg"), groups


def test_two_views_of_one_scene_and_other_photos_stay_apart(crops_found: FindResult) -> None:
    groups = group_of(crops_found)
    assert not together(groups, "left5.jpg", "right5.jpg"), groups
    assert len(crops_found.groups) == len(CROPS), groups


@pytest.fixture(scope="module")
def straightened_found(tmp_path_factory: pytest.TempPathFactory) -> tuple[FindResult, Path]:
    root = tmp_path_factory.mktemp("straightened") / "library"
    root.mkdir()
    for k, degrees in ((3, 4.0), (8, -6.0), (12, 3.0)):
        original = shared_photo(k, 1000)
        original.save(root / f"original{k}.jpg", quality=92)
        straightened(original, degrees).save(root / f"straight{k}.jpg", quality=88)
    db = tmp_path_factory.mktemp("straightened-db") / "i.db"
    return find_duplicates([str(root)], db_path=str(db)), db


def test_a_pair_another_rule_matched_is_decoded_for_no_local_features(
        straightened_found: tuple[FindResult, Path]) -> None:  # fmt: skip
    """The straightened copies' upright candidates are rejected but not clearly different, and the straightened
    rule matches them: no file is decoded again for local features (main decoded both files of one of them)."""
    found, db = straightened_found
    groups = group_of(found)
    for k in (3, 8, 12):
        assert together(groups, f"original{k}.jpg", f"straight{k}.jpg"), groups
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from local_features").fetchone()[0] == 0
