"""``find`` on a ``HashTable`` (hashes, flags and hypothesis hashes; pixels read per block from the index) decides
exactly as on the whole feature table, reads the records of grouped files only, and its memory per file is a
few hundred bytes (``matching.hashtable``, ``matching.files``; issue 26 part 2). Real pictures, a real index."""

from __future__ import annotations

import dataclasses
import sqlite3
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgtwin.matching.exact import exact_groups
from imgtwin.matching.files import IndexChangedError, Loaded, load_rows
from imgtwin.matching.grouping import Matches
from imgtwin.matching.hashtable import KINDS, HashTable, hypotheses
from imgtwin.matching.indexed import Grouping, group_rows
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.matching.near import NearParams, near_matches
from imgtwin.options import ScanOptions
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import cropped, shared_photo, straightened


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Photos with re-encoded, turned, mirrored, cropped, straightened, padded and byte copies; photos alone;
    flat pictures (one copied)."""
    root = tmp_path_factory.mktemp("pictures")
    for k in range(8):
        photo = shared_photo(k, 320)
        photo.save(root / f"p{k}.jpg", quality=92)
        if k < 5:
            photo.save(root / f"p{k}-again.jpg", quality=60)
            (root / f"p{k}-bytes.jpg").write_bytes((root / f"p{k}.jpg").read_bytes())
        if k in (0, 1):
            photo.transpose(Image.Transpose.ROTATE_90).save(root / f"p{k}-turned.jpg", quality=90)
            photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / f"p{k}-mirror.jpg", quality=90)
        if k in (2, 3):
            cropped(photo, 0.06, 0.0, 0.0, 0.05).save(root / f"p{k}-crop.jpg", quality=90)
            ImageOps.pad(photo, (400, 400), color=(0, 0, 0)).save(root / f"p{k}-padded.png")
        if k == 4:
            straightened(photo, 4).save(root / f"p{k}-straight.jpg", quality=90)
    Image.new("RGB", (120, 90), (200, 180, 90)).save(root / "flat.png")
    Image.new("RGB", (120, 90), (200, 180, 90)).save(root / "flat-copy.jpg", quality=95)
    Image.new("RGB", (100, 100), (20, 40, 160)).save(root / "blue.png")
    db = str(root.parent / f"{root.name}.db")
    run_scan(ScanSettings.of([str(root)], db, ScanOptions()))
    return db, str(root)


def _whole(loaded: Loaded) -> Loaded:
    """The same files on the complete feature table (every thumbnail in memory: how ``find`` worked before)."""
    return dataclasses.replace(loaded, table=loaded.pixels(np.arange(len(loaded))))


def _same(a: Matches, b: Matches) -> bool:
    return all(np.array_equal(np.asarray(getattr(a, f), dtype=object), np.asarray(getattr(b, f), dtype=object))
               for f in ("i", "j", "distance", "transform", "window_x", "window_y", "inverse", "basis"))


def test_the_hash_table_keeps_no_pixels_and_derives_the_same_hypotheses(index: tuple[str, str]) -> None:
    loaded = load_rows(index[0], [index[1]])
    assert isinstance(loaded.table, HashTable) and not hasattr(loaded.table, "thumbs")
    whole = _whole(loaded).table
    for kind, columns in KINDS.items():
        mine = hypotheses(loaded.table, kind)
        assert mine.shape == (len(loaded), columns) and np.array_equal(mine, hypotheses(whole, kind)), kind


@pytest.mark.parametrize("threshold", [6, 10])
def test_matches_are_those_of_the_whole_table(index: tuple[str, str], threshold: int) -> None:
    loaded = load_rows(index[0], [index[1]])
    params = NearParams(threshold=threshold)
    mine, detail = near_matches(loaded.table, params)
    theirs, their_detail = near_matches(_whole(loaded).table, params)
    assert _same(mine, theirs) and np.array_equal(detail, their_detail)
    assert "crop" in mine.bases() and "rotate90" in set(mine.transform) | set(mine.inverses())
    assert threshold > 6 or "straightened" in mine.bases()  # at 10 bits the turned copy is matched on its hash


def _groups(grouping: Grouping) -> list[tuple[str, ...]]:
    return [tuple(grouping.rows[m.index].path + f":{m.transform}:{m.distance}" for m in g.members)
            for g in grouping.groups]


def test_groups_are_those_of_the_whole_table_and_only_their_files_are_read(index: tuple[str, str]) -> None:
    loaded = load_rows(index[0], [index[1]])
    args = (NearParams(), KeeperPolicy.BEST, None)
    mine, theirs = group_rows(loaded, *args), group_rows(_whole(loaded), *args)
    assert _groups(mine) == _groups(theirs) and len(mine.groups) == 6  # p0-p4 with their copies, flat
    read = {row.path for row in mine.rows}
    assert {Path(p).name for p in read}.isdisjoint({"p5.jpg", "p6.jpg", "p7.jpg", "blue.png"})  # in no group
    assert {loaded_row.path for g in mine.groups for loaded_row in (mine.rows[m.index] for m in g.members)} <= read
    assert len(mine.ranking.keys) == len(mine.rows) < len(loaded)


def test_exact_sets_are_the_exact_groups_of_the_records(index: tuple[str, str]) -> None:
    loaded = load_rows(index[0], [index[1]])
    rows = loaded.rows(np.arange(len(loaded)))
    digests = {r.path: r.content_hash or "" for r in rows}
    expected = {g.paths for g in exact_groups(((r.path, r.info.size) for r in rows if r.content_hash),
                                              digest=digests.__getitem__)}
    labels = loaded.exact_labels()
    mine = {tuple(sorted(rows[k].path for k in np.flatnonzero(labels == label))) for label in set(labels) - {-1}}
    assert mine == expected and len(expected) >= 5


def _grown(db: str, target: Path, copies: int) -> str:
    """A copy of the index with every row repeated under other names until it holds ``copies`` rows."""
    out = str(target)
    with sqlite3.connect(db) as source, sqlite3.connect(out) as dest:
        source.backup(dest)
        columns = [c[1] for c in dest.execute("PRAGMA table_info(files)")]
        rows = dest.execute(f"SELECT {', '.join(columns)} FROM files WHERE features IS NOT NULL").fetchall()
        at = columns.index("path")
        grown = []
        for k in range(copies - len(rows)):
            row = list(rows[k % len(rows)])
            row[at] = bytes(row[at]) + f".{k}.jpg".encode()
            grown.append(row)
        dest.executemany(f"INSERT INTO files ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", grown)
    return out


def _resident_per_file(db: str) -> tuple[float, int]:
    tracemalloc.start()
    try:
        loaded = load_rows(db, [])
        resident, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return resident, len(loaded)


def test_memory_per_file_is_the_hash_tables_not_the_pictures(index: tuple[str, str], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading 2,000 then 6,000 files: what stays after loading grows by the resident columns per file (~0.8 KB:
    the 90 hypothesis hashes, 0.5 KB of them the 61 window hashes of ``matching.partial``), where a
    table of thumbnails and colours (1.5 KB) and a record per file (0.8 KB) grew by ~2.4 KB. Blocks of 256
    files, so that the blocks' own memory (constant: ~130 MB at 4,096 files) is small beside the difference.
    (The peak is the resident columns plus one block's transients, which depend on the block's pictures.)"""
    from imgtwin.matching import files, hashtable, near, packing, straighten

    for module, name in ((files, "LOAD_BLOCK"), (hashtable, "BLOCK"), (near, "HASH_BLOCK"), (straighten, "BLOCK")):
        monkeypatch.setattr(module, name, 256)
    monkeypatch.setattr(packing, "COMPILED_FILES", 0)  # one packer for both sizes, numba started before measuring
    load_rows(index[0], [])  # once before: the straightening's hash maps are made once per process (~40 MB)
    small, n_small = _resident_per_file(_grown(index[0], tmp_path / "small.db", 2000))
    large, n_large = _resident_per_file(_grown(index[0], tmp_path / "large.db", 6000))
    assert (n_small, n_large) == (2000, 6000)
    assert (large - small) / (n_large - n_small) < 1000


def test_layout_scores_read_per_block_of_candidates_are_those_of_the_whole_table(
        index: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout filter (``matching.layout``) derives its vectors from the pixels of a few candidates' files at a
    time (blocks of 3 here, read from the index): the scores are those of the whole table's vectors."""
    from imgtwin.matching import layout
    from imgtwin.matching.near import candidate_pairs, layout_scores

    loaded = load_rows(index[0], [index[1]])
    params = NearParams(threshold=2)  # a wide band: most candidates are scored
    cand = candidate_pairs(loaded.table, 12, crop_radius=params.crop_threshold)
    whole, _ = layout_scores(_whole(loaded).table, params, cand)
    monkeypatch.setattr(layout, "BLOCK", 3)
    mine, _ = layout_scores(loaded.table, params, cand)
    scored = np.isfinite(whole)
    assert scored.sum() > 6 and np.array_equal(scored, np.isfinite(mine))
    assert np.allclose(mine[scored], whole[scored], atol=1e-3)


def test_a_row_gone_from_the_index_is_refused_in_one_line(index: tuple[str, str], tmp_path: Path) -> None:
    db = _grown(index[0], tmp_path / "changing.db", 60)
    loaded = load_rows(db, [])
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM files WHERE rowid = ?", (int(loaded.ids[3]),))
    with pytest.raises(IndexChangedError, match="changed while find read it"):
        loaded.pixels(np.array([2, 3]))


def test_only_the_hypotheses_asked_for_are_derived(index: tuple[str, str]) -> None:
    """``find --similarity exact`` derives none (it searches no hash); one asked for later is derived then."""
    from imgtwin.runs.find import searched_kinds

    assert searched_kinds(NearParams(), True, False) == ()
    assert set(searched_kinds(NearParams(rotations=False), False, True)) == {"crop", "hard", "straight"}
    bare = load_rows(index[0], [index[1]], kinds=())
    assert isinstance(bare.table, HashTable) and bare.table.derived == {}
    assert np.array_equal(hypotheses(bare.table, "rotated"), hypotheses(_whole(bare).table, "rotated"))
