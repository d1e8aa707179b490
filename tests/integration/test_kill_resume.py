"""SIGKILL at random moments loses at most a batch; a rerun ends as an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtwin.persistence.lock import IndexWriteLock
from tests.helpers import synthetic_photo

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out

# Everything that describes a file's result; scanned_at and vanished_at are times.
COMPARED = ("path", "size", "mtime_ns", "dev", "inode", "ctime_ns", "content_hash", "width", "height", "format",
            "decode", "loader", "hash", "hash_spec", "error_reason", "error_message")


def scan(root: Path, db: Path, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(db), "--no-progress", "--batch-size", "7",
         "--commit-seconds", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **popen,
    )


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def snapshot(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute(f"SELECT {', '.join(COMPARED)} FROM files ORDER BY path").fetchall()


# Kills land past row 7 to 109: the files after that (over 200) keep every kill mid-scan even where
# a resumed scan stores tens of files in the few milliseconds between the row count and the kill.
PHOTOS = 320


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill") / "photos"
    for i in range(PHOTOS):
        folder = root / f"d{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        synthetic_photo(i, (480, 360)).save(folder / f"{i:03d}.jpg", quality=85)
    (root / "d0" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    return root


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_then_resume_equals_uninterrupted_run(photos: Path, tmp_path: Path, seed: int) -> None:
    reference = tmp_path / "reference.db"
    done = scan(photos, reference)
    done.communicate(timeout=120)
    assert done.returncode == 1
    expected = snapshot(reference)
    assert len(expected) == PHOTOS + 1

    db = tmp_path / "killed.db"
    rng = random.Random(seed)
    stored = 0
    for target in sorted(rng.sample(range(7, 110), 2)):  # kill once past each of two random row counts
        proc = scan(photos, db)
        deadline = time.monotonic() + 60
        while count_rows(db) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))  # anywhere inside the next batch, too
        os.killpg(proc.pid, signal.SIGKILL)  # power-loss style: the whole process group
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        partial = snapshot(db)  # readable and consistent after each kill
        assert set(partial) <= set(expected)
        assert stored <= len(partial) < len(expected)
        stored = len(partial)
    assert stored >= 7
    resumed = scan(photos, db)
    _stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 1, stderr
    assert snapshot(db) == expected


def test_second_writer_refuses_clearly_while_readers_work(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    first = scan(photos, db)
    first.communicate(timeout=120)
    with IndexWriteLock(str(db)):
        second = scan(photos, db)
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 2
        assert "being updated by another imgtwin process" in stderr and "Traceback" not in stderr
        info = subprocess.run([sys.executable, "-m", "imgtwin", "index", "info", "--db", str(db)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert info.returncode == 0 and f"{PHOTOS + 1} ({PHOTOS} hashed, 1 error, 0 vanished)" in info.stdout
