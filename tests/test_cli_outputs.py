"""Output conventions: - is stdout, files follow the umask, table headers, an example in every --help."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from tests.test_cli import imgtwin


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        found += commands(command, (*prefix, name)) if isinstance(command, click.Group) else [(*prefix, name)]
    return found


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c) or "imgtwin")
def test_every_help_has_an_example_of_its_own_command(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    examples = result.output.split("Examples:\n", 1)[1].splitlines()
    assert examples and all(line.strip().startswith("imgtwin ") for line in examples if line.strip())
    assert any(line.strip().startswith(" ".join(("imgtwin", *command))) for line in examples)


@pytest.mark.slow
def test_dash_is_stdout_and_the_table_goes_to_stderr(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    found = imgtwin("find", str(photo_dir), "--db", db, "--no-progress", "--json", "-")
    assert found.returncode == 0, found.stderr
    document = json.loads(found.stdout)
    assert len(document["groups"]) == 1 and not (Path.cwd() / "-").exists()
    assert "  dist  dimensions      size  path" in found.stderr and "1 group(s)" in found.stderr
    as_csv = imgtwin("find", str(photo_dir), "--db", db, "--no-progress", "-q", "--csv", "-")
    assert len(list(csv.DictReader(io.StringIO(as_csv.stdout)))) == 2
    scanned = imgtwin("scan", str(photo_dir), "--db", db, "--no-progress", "--format", "json", "--output", "-")
    assert scanned.returncode == 0 and len(json.loads(scanned.stdout)["files"]) == 7
    assert scanned.stderr.startswith("Done: ")  # the summary leaves stdout to the document
    both = imgtwin("find", str(photo_dir), "--db", db, "--json", "-", "--csv", "-")
    assert both.returncode == 2 and "only one output can go to stdout" in both.stderr
    html = imgtwin("report", "--db", db, "--html", "-")
    assert html.returncode == 2 and "--html needs a file name" in html.stderr


@pytest.mark.slow
def test_the_table_has_column_names(photo_dir: Path, tmp_path: Path) -> None:
    found = imgtwin("find", str(photo_dir), "--db", str(tmp_path / "i.db"), "--no-progress")
    lines = found.stdout.splitlines()
    assert lines[0] == "  dist  dimensions      size  path" and lines[1].startswith("Group 1 ")


@pytest.mark.slow
def test_outputs_follow_the_umask_and_their_folder_must_exist(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    for umask, mode in ((0o022, 0o644), (0o002, 0o664)):
        out = tmp_path / f"groups-{umask:o}.json"
        previous = os.umask(umask)
        try:
            done = imgtwin("find", str(photo_dir), "--db", db, "-q", "--json", str(out), "--csv", str(out) + ".csv")
        finally:
            os.umask(previous)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(out.stat().st_mode) == mode
        assert stat.S_IMODE(Path(str(out) + ".csv").stat().st_mode) == mode
    missing = imgtwin("find", str(photo_dir), "--db", db, "-q", "--json", str(tmp_path / "no" / "such" / "g.json"))
    assert missing.returncode == 2 and "no folder" in missing.stderr and not (tmp_path / "no").exists()
    no_db_folder = imgtwin("scan", str(photo_dir), "--db", str(tmp_path / "nope" / "x.db"))
    assert no_db_folder.returncode == 2 and len(no_db_folder.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nope").exists()


@pytest.mark.slow
def test_report_counts_its_whole_run(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    assert imgtwin("scan", str(photo_dir), "--db", db, "-q").returncode == 0
    done = imgtwin("report", "--db", db, "--html", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    seconds = float(done.stdout.rsplit(" in ", 1)[1].split(" s")[0])
    assert seconds > 0.0  # grouping and thumbnails, not only writing the page
