"""A worker's chunk of results travels as one message, and the index it makes is the one a file at a time makes.

Real tiny JPEG tiles written here (with a broken file, an empty one, a text file and a byte copy among
them), real worker processes, real SQLite indexes made by ``imgtwin scan`` in its own process.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.channels import Batch, Channel
from imgtwin.processing.task import ScanTask, process_file
from imgtwin.processing.workers import ProcessWorkerPool
from imgtwin.records import FileResult, FileStatus
from tests.helpers import synthetic_photo
from tests.processing.test_workers import run_pool


def _tiles(folder: Path, count: int = 40) -> list[str]:
    """Tiles like issue 26's (96 x 72 JPEGs of a few KB), and the files a scan must keep apart from them."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        synthetic_photo(k, (96, 72)).save(folder / f"t{k:03d}.jpg", quality=80 + k % 15)
    whole = (folder / "t001.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a picture\n")
    (folder / "copy of t002.jpg").write_bytes((folder / "t002.jpg").read_bytes())
    return sorted(str(path) for path in folder.iterdir())


def _same(result: FileResult) -> FileResult:
    """A result as compared: everything but the worker's seconds (not part of equality anyway) and nothing else."""
    return replace(result, duration_s=None)


def test_a_chunk_comes_back_as_one_message_with_each_files_own_result(tmp_path: Path) -> None:
    paths = _tiles(tmp_path / "tiles")
    task = ScanTask(StandardImageLoader(), DCTHasher(), MatchFeatureExtractor())
    pool = ProcessWorkerPool(2, task, chunk=8)
    pool._item_seconds = 0.001  # as measured on tiny files: whole chunks from the start
    messages = run_pool(pool, paths, Channel(100, batches=True))
    batches = [m for m in messages if isinstance(m, Batch)]
    assert batches and max(len(b) for b in batches) == 8  # chunks came back whole, one message each
    assert len(messages) < len(paths) / 2
    got = [result for m in messages for result in (m if isinstance(m, Batch) else (m,))]
    assert sorted(r.path for r in got) == paths  # each file once
    alone = {path: process_file(path, task.loader, task.hasher, task.extractor) for path in paths}
    assert all(_same(r) == _same(alone[r.path]) for r in got)
    assert all(r.duration_s is not None and r.duration_s > 0 for r in got)  # each file's own seconds, kept
    by_name = {Path(r.path).name: r for r in got}
    assert by_name["broken.jpg"].status is FileStatus.ERROR and by_name["empty.jpg"].status is FileStatus.ERROR
    assert by_name["notes.txt"].status is FileStatus.SKIPPED
    assert by_name["t005.jpg"].features is not None and by_name["t005.jpg"].picture is not None


def test_a_plain_channel_still_gets_one_result_a_message() -> None:
    plain, batched = Channel(10), Channel(10, batches=True)
    assert plain.send_all(["a", "b", "c"]) and batched.send_all(["a", "b", "c"]) and batched.send_all(["d"])
    assert [plain.get() for _ in range(3)] == ["a", "b", "c"] and plain.empty()
    assert batched.get() == Batch(("a", "b", "c")) and batched.get() == "d" and batched.empty()


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        files = [r[1] for r in conn.execute("PRAGMA table_info(files)") if r[1] != "scanned_at"]
        return {
            "files": conn.execute(f"SELECT {', '.join(files)} FROM files ORDER BY path").fetchall(),
            "framed_pictures": conn.execute("SELECT * FROM framed_pictures ORDER BY 1, 2").fetchall(),
        }
    finally:
        conn.close()


@pytest.mark.slow
def test_the_index_of_a_chunked_scan_is_the_index_of_one_file_at_a_time(tmp_path: Path) -> None:
    folder = tmp_path / "tiles"
    _tiles(folder, 120)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2] / "src"),
                                                                       os.environ.get("PYTHONPATH")]))}

    def scan(db: Path, *options: str) -> None:
        done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(folder), "--db", str(db), "--no-progress",
                               *options], check=False, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr  # some files could not be read: the broken and the empty one
        assert "121 hashed, 2 errors (1 byte copy" in done.stdout

    scan(tmp_path / "chunked.db")  # the process pool: chunks of tiny files, their results one message each
    scan(tmp_path / "alone.db", "--executor", "thread")  # one file a call, one result a message
    chunked, alone = _rows(tmp_path / "chunked.db"), _rows(tmp_path / "alone.db")
    assert len(chunked["files"]) == 123 and len(chunked["framed_pictures"]) >= 120  # notes.txt is not stored
    assert chunked == alone


def test_results_cross_the_pipe_whole(tmp_path: Path) -> None:
    # Records pickle as their field values (records.pickled_by_fields): every field comes back, the ones left
    # out of equality too, for a hashed file read from disk, an error and a skip.
    paths = _tiles(tmp_path)
    task = ScanTask(StandardImageLoader(), DCTHasher(), MatchFeatureExtractor())
    results = [process_file(path, task.loader, task.hasher, task.extractor) for path in paths]
    assert {r.status for r in results} == {FileStatus.HASHED, FileStatus.ERROR, FileStatus.SKIPPED}
    back = pickle.loads(pickle.dumps(results))
    fields_of = [[getattr(r, f.name) for f in fields(r)] for r in results]
    assert [[getattr(r, f.name) for f in fields(r)] for r in back] == fields_of
    assert all(type(r.metadata) is type(o.metadata) for r, o in zip(back, results, strict=True))
