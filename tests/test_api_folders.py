"""The API's folders follow the CLI's rule: a missing reference folder or a file given as a folder is an error.

The README's second example names ``photos/archive`` as the reference; run where that folder did not exist,
the plan protected nothing and moved every copy without a word (issue 25).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import imgtwin

OPTIONS = imgtwin.ScanOptions(executor="thread", workers=1)


def test_a_missing_reference_folder_inside_the_roots_stops_the_plan(photo_dir: Path, tmp_path: Path) -> None:
    db, before = str(tmp_path / "i.db"), sorted(p for p in photo_dir.rglob("*"))
    archive = photo_dir / "archive"  # under the root, so the scan of the root would not name it
    match = imgtwin.MatchOptions(reference=(str(archive),))
    with pytest.raises(FileNotFoundError, match=f"no such reference folder: {archive}"):
        imgtwin.plan_actions([str(photo_dir)], "move", db=db, move_to=str(tmp_path / "out"), match=match,
                             options=OPTIONS)
    with pytest.raises(FileNotFoundError, match="no such reference folder"):
        imgtwin.find_duplicates(photo_dir, db=db, match=match, options=OPTIONS)
    assert sorted(p for p in photo_dir.rglob("*")) == before and not (tmp_path / "out").exists()


def test_a_reference_that_is_a_file_is_refused(photo_dir: Path, tmp_path: Path) -> None:
    match = imgtwin.MatchOptions(reference=(str(photo_dir / "img0.jpg"),))
    with pytest.raises(NotADirectoryError, match="img0.jpg is a file, not a reference folder"):
        imgtwin.find_duplicates(photo_dir, db=tmp_path / "i.db", match=match, options=OPTIONS)


def test_a_plan_from_a_document_checks_its_reference_folders(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    found = imgtwin.find_duplicates(photo_dir, db=db, options=OPTIONS)
    document = tmp_path / "groups.json"
    document.write_text(json.dumps(found.document(base=os.getcwd())), encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="no such reference folder"):
        imgtwin.plan_from_file(str(document), "trash", db=db, reference=[str(tmp_path / "archive")])
    plan = imgtwin.plan_from_file(str(document), "trash", db=db, reference=[str(photo_dir / "a")])
    assert plan.reference == (str(photo_dir / "a"),) and not plan.items  # an existing one protects its copy


def test_a_file_is_never_a_root(photo_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        imgtwin.scan(photo_dir / "img0.jpg", db=db, options=OPTIONS)
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        imgtwin.find_duplicates(photo_dir / "img0.jpg", db=db, options=OPTIONS, scan=False)
    assert not db.exists()
