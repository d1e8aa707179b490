"""Documents carry their base: a find --json made in one folder is used from any other."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from imgtwin.actions import ActionKind, plan_from_document
from imgtwin.actions.model import PlanError
from tests.test_cli import imgtwin


def find_json_made_in(folder: Path, photo_dir: Path, db: Path, out: Path) -> dict:
    """find run from ``folder`` on the photos given relatively, as people type it."""
    rel = os.path.relpath(photo_dir, folder)
    done = imgtwin_in(folder, "find", rel, "--db", str(db), "--json", str(out), "-q")
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["base"] == str(folder)
    assert all(not os.path.isabs(m["path"]) for g in document["groups"] for m in g["members"])
    return document


def imgtwin_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        return imgtwin(*args)
    finally:
        os.chdir(previous)


@pytest.mark.slow
def test_dedupe_plan_and_report_resolve_against_the_base_from_anywhere(photo_dir: Path, tmp_path: Path) -> None:
    db, plan = tmp_path / "i.db", tmp_path / "groups.json"
    find_json_made_in(photo_dir.parent, photo_dir, db, plan)
    elsewhere = tmp_path / "Downloads"
    elsewhere.mkdir()
    dry = imgtwin_in(elsewhere, "dedupe", "--plan", str(plan), "--db", str(db), "--action", "trash")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Dry run: 1 file(s) would be trashed" in dry.stdout and "outside" not in dry.stdout + dry.stderr
    page = elsewhere / "review.html"
    report = imgtwin_in(elsewhere, "report", "--from-json", str(plan), "--html", str(page))
    assert report.returncode == 0, report.stderr
    assert ": 2 made, 0 reused)" in report.stdout  # real thumbnails, no placeholders


@pytest.mark.slow
def test_the_review_pages_plan_import_uses_the_base(photo_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db, out = tmp_path / "i.db", tmp_path / "groups.json"
    document = find_json_made_in(photo_dir.parent, photo_dir, db, out)
    (tmp_path / "Downloads").mkdir()
    monkeypatch.chdir(tmp_path / "Downloads")  # the exported plan is read where the browser saved it
    plan = plan_from_document(document, ActionKind.TRASH, db=str(db))
    assert [os.path.dirname(i.path) for i in plan.items] == [str(photo_dir / "a")]
    with pytest.raises(PlanError, match="not an absolute folder"):
        plan_from_document({**document, "base": "photos"}, ActionKind.TRASH, db=str(db))
    legacy = {k: v for k, v in document.items() if k != "base"}  # before base: the current folder, as it was
    assert plan_from_document(legacy, ActionKind.TRASH, db=str(db)).items == ()
