"""The default ``find`` decides with local features the pairs its thumbnails cannot (issue 24 part 2), and
computes them for just those files: end to end on small real images made here."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from imgtwin.options import ScanOptions
from imgtwin.persistence.local_features import LocalFeatureStore
from imgtwin.persistence.sqlite import read_rows
from imgtwin.runs.context import RunContext
from imgtwin.runs.deep import FeaturesOnDemand
from imgtwin.runs.find import FindResult, find_duplicates
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import save_phone_edits, shared_photo, shifted_views

EDITS = ("stickers.jpg", "straightened.jpg", "keystone.jpg", "cropped.jpg")
UNRELATED = ("other20.jpg", "other21.jpg", "other22.jpg", "scene left.jpg", "scene right.jpg")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("escalate") / "library"
    (root / "edits").mkdir(parents=True)
    original = shared_photo(1, 1200)
    original.save(root / "original.jpg", quality=92)
    save_phone_edits(original, root / "edits")
    left, right = shifted_views(shared_photo(12, 1600), 0.5)
    left.save(root / "scene left.jpg", quality=90)
    right.save(root / "scene right.jpg", quality=90)
    for k in (20, 21, 22):
        shared_photo(k, 1000).save(root / f"other{k}.jpg", quality=90)
    return root


def groups_by_name(result: FindResult) -> dict[str, tuple[int, str | None]]:
    return {os.path.basename(m.path): (g.id, m.transform) for g in result.groups for m in g.members}


@pytest.fixture(scope="module")
def found(library: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[FindResult, str]:
    db = str(tmp_path_factory.mktemp("escalate-db") / "i.db")
    return find_duplicates([str(library)], db_path=db), db


def test_the_default_find_groups_stickered_straightened_keystoned_and_hard_cropped_copies_with_their_original(found: tuple[FindResult, str]) -> None:
    names = groups_by_name(found[0])
    group = names["original.jpg"][0]
    for name in EDITS:
        assert names[name][0] == group, (name, names)
    words = {name: transform or "" for name, (_, transform) in names.items()}
    assert "rotated 4°" in words["straightened.jpg"] + words["original.jpg"], words
    assert "crop 2" in words["cropped.jpg"] + words["original.jpg"], words


def test_the_clean_original_is_kept_over_its_stickered_and_other_edited_copies(found: tuple[FindResult, str]) -> None:
    """The stickered copy's pair is a fit of local features: its thumbnails, never aligned, do not say which
    file had something added (read as aligned, the stickers' flat fill made the original the edited one)."""
    (group,) = [g for g in found[0].groups if any(os.path.basename(m.path) == "original.jpg" for m in g.members)]
    assert os.path.basename(group.keeper.path) == "original.jpg", (group.keeper_rule, group.keeper_reason)


def test_two_shifted_shots_of_one_scene_and_unrelated_photos_stay_apart(found: tuple[FindResult, str]) -> None:
    names = groups_by_name(found[0])
    for name in UNRELATED:
        assert name not in names, (name, names)


def test_local_features_are_computed_for_the_escalated_files_only(found: tuple[FindResult, str]) -> None:
    """The pairs the thumbnails decide (unrelated photos, byte copies) cost no second decode."""
    _, db = found
    with sqlite3.connect(db) as conn:
        stored = {r[0] for r in conn.execute("SELECT content_hash FROM local_features")}
    by_name = {os.path.basename(row["path"]): row["content_hash"] for row in read_rows(db)}
    assert stored == {by_name[n] for n in ("original.jpg", *EDITS)}


def test_a_second_find_reuses_the_stored_local_features(found: tuple[FindResult, str], library: Path) -> None:
    result, db = found
    with LocalFeatureStore(db) as store:
        before = store.count()
    again = find_duplicates([str(library)], db_path=db)
    with LocalFeatureStore(db) as store:
        assert store.count() == before
    assert groups_by_name(again) == groups_by_name(result)


def test_prefetched_features_are_computed_once_in_the_background_and_waited_for(
        library: Path, tmp_path: Path) -> None:  # fmt: skip
    """``FeaturesOnDemand.prefetch`` returns at once; the call that follows waits for it and decodes nothing more."""
    db = str(tmp_path / "i.db")
    run_scan(ScanSettings.of((str(library),), db, ScanOptions()), RunContext())
    rows = {os.path.basename(row["path"]): row for row in read_rows(db)}
    names = ("original.jpg", "cropped.jpg")
    paths, digests = [rows[n]["path"] for n in names], [rows[n]["content_hash"] for n in names]
    source = FeaturesOnDemand(ScanSettings.of((str(library),), db, ScanOptions()), RunContext())
    source.prefetch(paths, digests)
    features = source([*paths, rows["stickers.jpg"]["path"]], [*digests, rows["stickers.jpg"]["content_hash"]])
    assert all(f is not None and len(f) > 100 for f in features)
    assert source.computed is not None and source.computed.stored == 1  # the call's own file only
    with LocalFeatureStore(db) as store:
        assert store.count()[0] == 3


def test_a_prefetch_on_an_index_that_cannot_be_written_leaves_the_pairs_undecided(
        library: Path, tmp_path: Path) -> None:  # fmt: skip
    db = tmp_path / "i.db"
    run_scan(ScanSettings.of((str(library),), str(db), ScanOptions()), RunContext())
    row = next(r for r in read_rows(str(db)) if r["path"].endswith("original.jpg"))
    db.write_bytes(b"not an index")
    source = FeaturesOnDemand(ScanSettings.of((str(library),), str(db), ScanOptions()), RunContext())
    source.prefetch([row["path"]], [row["content_hash"]])
    assert source([row["path"]], [row["content_hash"]]) == [None]
