"""imgtwin.scan, find_duplicates and Index as a script uses them: ~ expanded, options carried to the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import imgtwin


def test_scan_find_and_read_the_index_with_home_paths(photo_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(photo_dir.parent))
    options = imgtwin.ScanOptions(executor="thread", workers=1)
    summary = imgtwin.scan("~/photos", db="~/i.db", options=options)
    assert (summary.processed_files, summary.error_count) == (7, 0)
    found = imgtwin.find_duplicates("~/photos", db="~/i.db", options=options)
    assert [sorted(Path(m.path).name for m in g.members) for g in found.groups] == [["copy of img0.jpg", "img0.jpg"]]
    filtered = imgtwin.find_duplicates("~/photos", db="~/i.db", scan=False,
                                       options=imgtwin.ScanOptions(exclude=("*/a/*",)))
    assert filtered.groups == ()
    exact = imgtwin.find_duplicates(db=photo_dir.parent / "i.db", match=imgtwin.MatchOptions(similarity="exact"))
    assert len(exact.groups) == 1 and exact.groups[0].category == "exact"
    with imgtwin.Index("~/i.db") as index:
        files = list(index.files())
        assert len(files) == 7 and all(f.content_hash and f.error is None for f in files)
        assert [Path(f.path).name for f in index.files(under="~/photos/a/b")] == ["five.webp"]
        assert list(index.errors()) == [] and index.roots() == (str(photo_dir),)
    with pytest.raises(FileNotFoundError, match="no index"):
        imgtwin.Index(tmp_path / "none.db")


def test_actions_take_home_paths(photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(photo_dir.parent))
    monkeypatch.setenv("XDG_DATA_HOME", str(photo_dir.parent / "data"))
    plan = imgtwin.plan_actions(["~/photos"], "move", db="~/i.db", move_to="~/dupes",
                                options=imgtwin.ScanOptions(executor="thread", workers=1))
    assert [i.target for i in plan.items] == [str(photo_dir.parent / "dupes" / "a" / "copy of img0.jpg")]
    assert (photo_dir.parent / "i.db").is_file() and not Path("~").exists()


def test_a_result_carries_the_options_that_made_it(photo_dir: Path, tmp_path: Path) -> None:
    """What is written from a result (its find --json document) says the threshold and rotations it was found with."""
    db = tmp_path / "i.db"
    match = imgtwin.MatchOptions(similarity="low", rotations=False)
    found = imgtwin.find_duplicates(photo_dir, db=db, match=match,
                                    options=imgtwin.ScanOptions(executor="thread", workers=1))
    assert found.match == match
    document = found.document()
    assert (document["threshold"], document["rotations"]) == (10, False)
    assert [len(g["members"]) for g in document["groups"]] == [len(g.members) for g in found.groups] == [2]
    assert imgtwin.find_duplicates(db=db, scan=False).match == imgtwin.MatchOptions()


def test_the_index_is_db_everywhere_and_db_path_still_works_with_a_warning(photo_dir: Path, tmp_path: Path) -> None:
    db, options = str(tmp_path / "i.db"), imgtwin.ScanOptions(executor="thread", workers=1)
    plan = imgtwin.plan_actions([str(photo_dir)], "trash", db=db, options=options)
    with pytest.warns(DeprecationWarning, match=r"plan_actions\(db_path=...\) is deprecated: use db="):
        old = imgtwin.plan_actions([str(photo_dir)], "trash", db_path=db, options=options, scan=False)
    assert [i.path for i in old.items] == [i.path for i in plan.items] and len(plan.items) == 1
    plan_file = tmp_path / "groups.json"
    plan_file.write_text(json.dumps(imgtwin.find_duplicates(photo_dir, db=db, scan=False).document()))
    with pytest.warns(DeprecationWarning, match="plan_from_file"):
        assert imgtwin.plan_from_file(str(plan_file), "trash", db_path=db).items == plan.items
    with pytest.raises(TypeError, match="not both"):
        imgtwin.plan_actions([str(photo_dir)], "trash", db=db, db_path=db)
