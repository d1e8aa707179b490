"""Small frictions a new user met (issue 25): files given as folders, where outputs went, help texts, counts."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from tests.helpers import synthetic_photo
from tests.test_cli_outputs import commands

FOLDER_COMMANDS = [("scan",), ("find",), ("report", "--html", "{tmp}/r.html"), ("review", "--no-browser"),
                   ("dedupe", "--action", "trash")]


def _roots(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT path FROM roots")]


@pytest.mark.parametrize("command", FOLDER_COMMANDS, ids=lambda c: c[0])
def test_a_file_given_as_a_folder_is_a_one_line_error(command: tuple[str, ...], photo_dir: Path,
                                                      tmp_path: Path) -> None:
    """``find FILE`` said "0 group(s)" and made the file a root of the index; now every command refuses it."""
    db = tmp_path / "i.db"
    assert CliRunner().invoke(main, ["scan", str(photo_dir), "--db", str(db), "--no-progress"]).exit_code == 0
    before = _roots(db)
    picture = photo_dir / "img0.jpg"
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [*args, str(picture), "--db", str(db)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{picture} is a file, not a folder" in lines[0], result.output
    assert "group(s)" not in result.output and "Traceback" not in result.output
    assert _roots(db) == before  # never a root of the index
    assert not (tmp_path / "r.html").exists()


def test_a_missing_or_file_reference_folder_is_a_usage_error(photo_dir: Path, tmp_path: Path) -> None:
    """The CLI's --reference check is the API's rule (``folders.check_folders``), as a usage error."""
    for reference, said in ((tmp_path / "archive", "no such reference folder"),
                            (photo_dir / "img0.jpg", "is a file, not a reference folder")):
        result = CliRunner().invoke(main, ["find", str(photo_dir), "--db", str(tmp_path / "i.db"),
                                           "--reference", str(reference)])
        assert result.exit_code == 2 and "--reference" in result.output and said in result.output, result.output
    assert not (tmp_path / "i.db").exists()


def test_find_says_where_each_file_it_wrote_went(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    outputs = {"--json": tmp_path / "g.json", "--csv": tmp_path / "g.csv", "--html": tmp_path / "g.html"}
    args = [part for flag, path in outputs.items() for part in (flag, str(path))]
    result = CliRunner().invoke(main, ["find", str(photo_dir), "--db", db, "--no-progress", "--workers", "1", *args])
    assert result.exit_code == 0, result.output
    assert f"Wrote the groups as JSON to {outputs['--json']}" in result.output
    assert f"Wrote the groups as CSV to {outputs['--csv']}" in result.output
    assert re.search(rf"Wrote the HTML report \(thumbnails in .*g_files\) to {re.escape(str(outputs['--html']))}",
                     result.output), result.output
    assert all(path.is_file() for path in outputs.values())
    quiet = CliRunner().invoke(main, ["find", str(photo_dir), "--db", db, "-q", "--json", str(outputs["--json"])])
    assert quiet.exit_code == 0 and "Wrote" not in quiet.output  # -q: files and exit code only
    to_stdout = CliRunner().invoke(main, ["find", str(photo_dir), "--db", db, "-q", "--json", "-"])
    assert json.loads(to_stdout.output)["groups"]  # stdout stays the document


def test_scan_says_where_its_output_and_log_went(photo_dir: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "files.json", tmp_path / "run.log"
    result = CliRunner().invoke(main, ["scan", str(photo_dir), "--db", str(tmp_path / "i.db"), "--no-progress",
                                       "--format", "json", "--output", str(out), "--log", str(log)])
    assert result.exit_code == 0, result.output
    assert f"Wrote the results as json to {out}" in result.output and f"Appended the log to {log}" in result.output
    assert out.is_file() and log.is_file()


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c) or "imgtwin")
def test_no_help_shows_a_doubled_percent_sign(command: tuple[str, ...]) -> None:
    """click does not %-format help texts: "%%" was printed as it is ("crops of 10-30 %%")."""
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0 and "%%" not in result.output


def test_deep_help_says_crops_of_10_to_30_percent() -> None:
    for command in ("find", "report", "review", "dedupe"):
        result = CliRunner().invoke(main, [command, "--help"], terminal_width=400)
        assert "crops of 10-30 % and perspective fixes" in result.output, command


def test_a_rescan_summary_adds_up_and_says_1_error(tmp_path: Path) -> None:
    """20 pictures and a broken file: "20 hashed, 1 errors (21 known to the index...)" read as if 21 of 20."""
    root = tmp_path / "pictures"
    root.mkdir()
    for seed in range(20):
        synthetic_photo(seed, (96, 72)).save(root / f"p{seed:02}.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    db = str(tmp_path / "i.db")
    args = ["scan", str(root), "--db", db, "--no-progress", "--workers", "1"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1 and "Done: 20 hashed, 1 error, 0 skipped" in first.output, first.output
    again = CliRunner().invoke(main, args)
    assert "Done: 20 hashed, 1 error (all 21 known to the index, not read again), 0 skipped" in again.output
    synthetic_photo(99, (96, 72)).save(root / "new.png")
    third = CliRunner().invoke(main, args)
    assert "Done: 21 hashed, 1 error (21 of these 22 known to the index, not read again)" in third.output
    info = CliRunner().invoke(main, ["index", "info", "--db", db])
    assert "files:          22 (21 hashed, 1 error, 0 vanished)" in info.output
