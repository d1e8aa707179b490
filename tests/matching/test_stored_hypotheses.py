"""The hypothesis hashes are derived once and stored in the index (``matching.hashtable``, issue 26 part 2): a
find reads them instead of deriving them again, they are the bits derived from the thumbnails, an index made
before they were stored gets them filled by its first find and gives the same groups, and a row whose features
changed since its hashes were stored is derived again. Real pictures, a real index, ``imgtwin`` as a process."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.matching import hashtable
from imgtwin.matching.files import load_rows
from imgtwin.matching.hashtable import KINDS, STORED_BYTES, hypotheses
from imgtwin.options import ScanOptions
from imgtwin.persistence.index import HashIndex
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import cropped, shared_photo, straightened


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Photos with turned, cropped, straightened and re-encoded copies, photos alone and a flat picture, scanned
    (the scan stores no hypothesis hashes: ``find`` fills them); the index is kept pristine, tests use copies."""
    root = tmp_path_factory.mktemp("pictures")
    for k in range(6):
        photo = shared_photo(k, 240)
        photo.save(root / f"p{k}.jpg", quality=92)
        if k < 3:
            photo.save(root / f"p{k}-again.jpg", quality=55)
            photo.transpose(Image.Transpose.ROTATE_270).save(root / f"p{k}-turned.jpg", quality=90)
        if k == 3:
            cropped(photo, 0.07, 0.0, 0.0, 0.06).save(root / f"p{k}-crop.jpg", quality=90)
        if k == 4:
            straightened(photo, 5).save(root / f"p{k}-straight.jpg", quality=90)
    Image.new("RGB", (90, 60), (40, 160, 90)).save(root / "flat.png")
    db = str(root.parent / "pristine.db")
    run_scan(ScanSettings.of([str(root)], db, ScanOptions()))
    return db, str(root)


def _copy(db: str, target: Path) -> str:
    shutil.copyfile(db, target)
    return str(target)


def _stored(db: str) -> list[bytes | None]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT data FROM files LEFT JOIN hypotheses ON id = files.rowid "
                                                "WHERE features IS NOT NULL ORDER BY path")]


def _refuse_to_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("derived again")

    monkeypatch.setattr(hashtable, "_derive", refuse)
    monkeypatch.setattr(hashtable.HashTableBuilder, "_straighten", refuse)


def test_stored_hashes_are_the_derived_ones_and_are_read_not_derived(scanned: tuple[str, str], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = _copy(scanned[0], tmp_path / "i.db")
    assert set(_stored(db)) == {None}  # as scanned
    first = load_rows(db, [scanned[1]])
    stored = _stored(db)
    assert len(stored) == len(first) > 10 and all(s is not None and len(s) == STORED_BYTES for s in stored)
    whole = first.pixels(np.arange(len(first)))  # every thumbnail: the hashes derived from the pictures
    for kind in KINDS:
        assert np.array_equal(hypotheses(first.table, kind), hypotheses(whole, kind)), kind
    assert hypotheses(first.table, "straight").any() and hypotheses(first.table, "hard").any()
    _refuse_to_derive(monkeypatch)
    second = load_rows(db, [scanned[1]])
    for kind in KINDS:
        assert np.array_equal(hypotheses(second.table, kind), hypotheses(first.table, kind)), kind
    assert _stored(db) == stored


def test_a_row_whose_features_changed_is_derived_again(scanned: tuple[str, str], tmp_path: Path) -> None:
    """Hashes stored for a row whose features are not those they were derived from (the row rescanned since, by
    an older imgtwin that knows no such table, or its row id reused) fail their check: derived from its features
    again, and stored again."""
    db = _copy(scanned[0], tmp_path / "i.db")
    truth = load_rows(db, [scanned[1]])
    with sqlite3.connect(db) as conn:
        ids = [int(truth.ids[0]), int(truth.ids[1])]
        blobs = dict(conn.execute("SELECT id, data FROM hypotheses WHERE id IN (?, ?)", ids).fetchall())
        conn.execute("UPDATE hypotheses SET data = ? WHERE id = ?", (blobs[ids[1]], ids[0]))  # another's
    again = load_rows(db, [scanned[1]])
    for kind in KINDS:
        assert np.array_equal(hypotheses(again.table, kind), hypotheses(truth.table, kind)), kind
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT data FROM hypotheses WHERE id = ?", (ids[0],)).fetchone()[0] == blobs[ids[0]]


def _find(db: str, out: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", "--db", db, "-q", "--json", str(out)],
                          check=False, capture_output=True, text=True, timeout=300)  # the whole index, no scan
    assert done.returncode in (0, 1), done.stderr
    document: dict[str, object] = json.loads(out.read_text())
    document.pop("base", None)
    return document


def test_an_index_made_before_the_column_finds_the_same_and_gets_them_filled(scanned: tuple[str, str],
                                                                             tmp_path: Path) -> None:
    old = _copy(scanned[0], tmp_path / "old.db")
    with sqlite3.connect(old) as conn:  # as an imgtwin before the stored hashes made it
        conn.execute("DROP TABLE hypotheses")
    new = _copy(scanned[0], tmp_path / "new.db")
    load_rows(new, [scanned[1]])  # filled before its find: read, not derived
    assert None not in _stored(new)
    found_old, found_new = _find(old, tmp_path / "old.json"), _find(new, tmp_path / "new.json")
    assert found_old == found_new and len(found_new["groups"]) >= 4  # type: ignore[arg-type]
    assert _stored(old) == _stored(new)  # the column made and filled by the first find: the same bits


def test_prune_drops_the_hashes_of_the_rows_it_deletes(scanned: tuple[str, str], tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(scanned[1], library)
    db = str(tmp_path / "i.db")
    run_scan(ScanSettings.of([str(library)], db, ScanOptions()))
    load_rows(db, [str(library)])
    (library / "p5.jpg").unlink()
    with HashIndex(db) as index:
        assert index.mark_vanished([str(library)]) == 1 and index.prune() == 1
    with sqlite3.connect(db) as conn:
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM hypotheses JOIN files ON files.rowid = id").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM hypotheses").fetchone()[0] == kept == files
