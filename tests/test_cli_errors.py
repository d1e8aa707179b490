"""``imgtwin errors`` and the per-reason counts that end a scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import imgtwin


@pytest.mark.slow
def test_errors_lists_failures_by_reason_and_refuses_a_missing_index(photo_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    (photo_dir / "cut.jpg").write_bytes((photo_dir / "img1.jpg").read_bytes()[:3000])
    (photo_dir / "empty.png").write_bytes(b"")
    scan = imgtwin("scan", str(photo_dir), "--db", str(db), "--no-progress", "--workers", "1")
    assert scan.returncode == 1
    assert "Errors by reason: not_an_image 1, truncated 1" in scan.stderr
    listed = imgtwin("errors", "--db", str(db))
    assert listed.returncode == 0
    assert [line.rsplit("/", 1)[1].split(": ")[:2] for line in listed.stdout.splitlines()] == [
        ["cut.jpg", "truncated"], ["empty.png", "not_an_image"]]
    only = json.loads(imgtwin("errors", "--db", str(db), "--json", "--reason", "not_an_image").stdout)
    assert [(Path(r["path"]).name, r["reason"], r["message"]) for r in only] == [("empty.png", "not_an_image", "empty file")]
    assert json.loads(imgtwin("errors", "--db", str(db), "--json", "--reason", "timeout").stdout) == []
    missing = imgtwin("errors", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no index at" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "none.db").exists()
    bad_reason = imgtwin("errors", "--db", str(db), "--reason", "nonsense")
    assert bad_reason.returncode == 2


@pytest.mark.slow
def test_markup_like_names_are_printed_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "odd[/]name [red]"
    folder.mkdir(parents=True)  # "odd[" / "]name [red]"
    (folder / "cut [b].jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    db = folder / "i.db"
    scan = imgtwin("scan", str(folder), "--db", str(db), "--no-progress", "--workers", "1")
    assert scan.returncode == 1 and "Traceback" not in scan.stderr
    assert f"{folder}/cut [b].jpg: " in scan.stderr
    listed = imgtwin("errors", "--db", str(db))
    assert listed.returncode == 0 and listed.stdout.startswith(f"{folder}/cut [b].jpg: ")
    db.write_bytes(b"SQLite format 3\0" + b"\xff" * 84)  # damaged: the one-line error names the path as it is
    damaged = imgtwin("errors", "--db", str(db))
    assert damaged.returncode == 2 and "Traceback" not in damaged.stderr
    assert str(db) in damaged.stderr.replace("\n", "")
