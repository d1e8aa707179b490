"""The command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgtwin.persistence.sqlite import read_rows


def imgtwin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, check=False,
    )


@pytest.mark.slow
def test_scan_clean_folder_exits_0_and_writes_index_and_json(photo_dir: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "i.db", tmp_path / "out.json"
    done = imgtwin("scan", str(photo_dir), "--db", str(db), "--format", "json", "--output", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Done: 7 hashed, 0 errors (1 byte copy of another file, not decoded), 1 skipped")
    assert "Traceback" not in done.stderr
    doc = json.loads(out.read_text())
    assert len(doc["files"]) == 7 and all(f["hash"] for f in doc["files"])
    assert len(list(read_rows(str(db)))) == 7


@pytest.mark.slow
def test_scan_with_failures_exits_1_and_lists_them(photo_dir: Path, tmp_path: Path) -> None:
    (photo_dir / "cut.jpg").write_bytes((photo_dir / "img1.jpg").read_bytes()[:3000])
    out = tmp_path / "out.csv"
    done = imgtwin("scan", str(photo_dir), "--db", str(tmp_path / "i.db"), "--format", "csv", "--output", str(out),
                   "--no-progress", "--workers", "1", "--batch-size", "2", "--buffer", "3")
    assert done.returncode == 1
    assert "1 file(s) could not be read" in done.stderr and "cut.jpg: truncated" in done.stderr
    with open(out, newline="") as f:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    assert rows["cut.jpg"]["error_reason"] == "truncated"


@pytest.mark.slow
def test_quiet_prints_nothing_and_env_var_chooses_the_index(photo_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    done = imgtwin("scan", str(photo_dir), "--quiet", env={"IMGTWIN_DB": str(db)})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert db.exists()


def test_log_file(photo_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    done = imgtwin("scan", str(photo_dir), "--db", str(tmp_path / "i.db"), "--log", str(log), "-q", "--executor", "thread")
    assert done.returncode == 0
    assert "completed: 7 hashed, 0 errors, 1 skipped" in log.read_text()


@pytest.mark.slow
def test_usage_and_fatal_errors_exit_2_without_traceback(photo_dir: Path, tmp_path: Path) -> None:
    missing = imgtwin("scan", str(tmp_path / "nope"), "--db", str(tmp_path / "i.db"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    assert not (tmp_path / "i.db").exists()
    usage = imgtwin("scan", str(photo_dir), "--workers", "-3")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    half = imgtwin("scan", str(photo_dir), "--format", "json")
    assert half.returncode == 2 and "--format and --output go together" in half.stderr
    foreign = tmp_path / "notes.db"
    foreign.write_text("hello" * 300)
    bad_db = imgtwin("scan", str(photo_dir), "--db", str(foreign))
    assert bad_db.returncode == 2 and "not an imgtwin index" in bad_db.stderr
    assert "Traceback" not in missing.stderr + bad_db.stderr


def test_console_script_and_version() -> None:
    done = imgtwin("--version")
    assert done.returncode == 0 and "imgtwin, version" in done.stdout
