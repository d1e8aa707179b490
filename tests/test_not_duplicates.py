"""Remembered "not duplicates" decisions: real images, a real index, the real command line.

A group of three near copies of one picture (the original, a smaller copy and
a re-encoded one) and an unrelated picture; decisions are made with ``imgtwin
mark`` and must hold through rescans, moves, copies and a content change, in
``find``, ``dedupe`` and the API alike.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import imgtwin
from imgtwin.cli import main
from tests.helpers import synthetic_photo


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def make_group(folder: Path) -> tuple[Path, Path, Path]:
    """Three near copies of one picture, and one unrelated picture beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = synthetic_photo(11)
    a, b, c = folder / "a.jpg", folder / "b.jpg", folder / "c.jpg"
    picture.save(a, quality=95)
    picture.resize((480, 360)).save(b, quality=90)
    picture.save(c, quality=70)
    synthetic_photo(12).save(folder / "other.jpg", quality=90)
    return a, b, c


def groups_of(folder: Path, db: Path) -> list[set[str]]:
    """``find``'s groups (file names), through the command line's JSON."""
    out = folder.parent / "groups.json"
    result = run("find", str(folder), "--db", str(db), "--json", str(out), "-q", "--workers", "1")
    assert result.exit_code == 0, result.output
    return [{Path(m["path"]).name for m in g["members"]} for g in json.loads(out.read_text())["groups"]]


def test_a_marked_group_stays_split_after_a_rescan_and_a_move(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, c = make_group(photos)
    assert groups_of(photos, db) == [{"a.jpg", "b.jpg", "c.jpg"}]

    marked = run("mark", "not-duplicates", str(a), str(b), str(c), "--db", str(db))
    assert marked.exit_code == 0, marked.output
    assert f"Remembered 3 pair(s) as not duplicates (3 new) in {db}" in marked.output
    assert groups_of(photos, db) == []

    # The JSON says how many were left out; the table says so too, and lists them on request.
    document = json.loads((tmp_path / "groups.json").read_text())
    assert document["summary"]["decided_groups"] == 1 and document["summary"]["decided_files"] == 3
    assert "decided" not in document
    shown = run("find", str(photos), "--db", str(db), "--show-decided", "--json", "-", "--workers", "1")
    decided = json.loads(shown.stdout)["decided"]
    assert [{Path(m["path"]).name for m in g["members"]} for g in decided] == [{"a.jpg", "b.jpg", "c.jpg"}]
    assert decided[0]["decided"] is True and decided[0]["reclaimable_bytes"] == 0
    table = run("find", str(photos), "--db", str(db), "--workers", "1", "--no-progress")
    assert ("1 group(s) split by remembered \"not duplicates\" decisions (`imgtwin mark list`): 3 file(s) left out "
            "of every group (--show-decided lists them)." in table.output)

    html = tmp_path / "report.html"  # the report as well: its summary counts what the decisions left out
    assert run("report", str(photos), "--db", str(db), "--html", str(html), "-q").exit_code == 0
    assert '"decided_groups":1' in html.read_text().replace(" ", "")

    moved = tmp_path / "elsewhere" / "renamed"
    shutil.move(str(photos), str(moved))
    for name in ("a.jpg", "b.jpg"):
        (moved / name).rename(moved / f"moved {name}")
    assert groups_of(moved, db) == []


def test_marking_one_member_leaves_the_other_two_grouped(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, c = make_group(photos)
    groups_of(photos, db)
    assert imgtwin.mark_not_duplicates([a, b, c], db, only=b) == 2  # the API, as `imgtwin mark` does
    assert groups_of(photos, db) == [{"a.jpg", "c.jpg"}]
    found = imgtwin.find_duplicates(photos, db)  # the API's find the same
    assert [{Path(m.path).name for m in g.members} for g in found.groups] == [{"a.jpg", "c.jpg"}]
    assert found.decided_files == 1 and len(found.decided) == 1


def test_two_files_marked_apart_are_never_grouped_through_a_keeper_they_both_match(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    _, b, c = make_group(photos)
    run("mark", "not-duplicates", str(b), str(c), "--db", str(db))
    groups = groups_of(photos, db)
    assert len(groups) == 1 and "a.jpg" in groups[0] and len(groups[0]) == 2, groups


def test_a_marked_file_whose_content_changes_is_proposed_again(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, _ = make_group(photos)
    (photos / "c.jpg").unlink()
    groups_of(photos, db)
    run("mark", "not-duplicates", str(a), str(b), "--db", str(db))
    assert groups_of(photos, db) == []
    synthetic_photo(11).resize((500, 375)).save(b, quality=85)  # new bytes, the same picture
    assert groups_of(photos, db) == [{"a.jpg", "b.jpg"}]


def test_a_byte_copy_keeps_the_decision_and_copies_marked_apart_stay_apart(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, _ = make_group(photos)
    (photos / "c.jpg").unlink()
    run("mark", "not-duplicates", str(a), str(b), "--db", str(db))
    shutil.copyfile(b, photos / "copy of b.jpg")
    assert groups_of(photos, db) == [{"b.jpg", "copy of b.jpg"}]  # b's copy is b: still apart from a
    run("mark", "not-duplicates", str(b), str(photos / "copy of b.jpg"), "--db", str(db))
    assert groups_of(photos, db) == []


def test_dedupe_never_acts_on_a_marked_pair(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, c = make_group(photos)
    out = tmp_path / "before.json"
    assert run("find", str(photos), "--db", str(db), "--json", str(out), "-q", "--workers", "1").exit_code == 0
    run("mark", "not-duplicates", str(a), str(b), str(c), "--only", str(c), "--db", str(db))

    # From a fresh find: c is in no group, so nothing touches it.
    applied = run("dedupe", str(photos), "--db", str(db), "--action", "move", "--move-to", str(tmp_path / "bin"),
                  "--yes", "--workers", "1", "--no-progress", "--journal", str(tmp_path / "j.jsonl"))
    assert applied.exit_code == 0, applied.output
    assert a.exists() and not b.exists() and c.exists(), applied.output
    assert "decisions (`imgtwin mark list`): 1 file(s) left out of every group: left alone." in applied.output

    # From a document written before the decision: the member marked apart from its keeper is refused.
    assert run("undo", str(tmp_path / "j.jsonl")).exit_code == 0 and b.exists()
    planned = run("dedupe", "--plan", str(out), "--db", str(db), "--action", "move", "--move-to",
                  str(tmp_path / "bin2"), "--yes", "--journal", str(tmp_path / "j2.jsonl"))
    assert a.exists() and not b.exists() and c.exists(), planned.output
    assert "marked not a duplicate of the keeper" in planned.output


def test_export_then_import_into_a_fresh_index_keeps_every_decision(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, c = make_group(photos)
    run("mark", "not-duplicates", str(a), str(b), str(c), "--db", str(db))
    (photos / "twin.jpg").write_bytes((photos / "other.jpg").read_bytes())
    run("mark", "not-duplicates", str(photos / "twin.jpg"), str(photos / "other.jpg"), "--db", str(db))
    exported = tmp_path / "decisions.json"
    result = run("mark", "export", str(exported), "--db", str(db))
    assert result.output.strip() == f"Wrote 4 decision(s) to {exported}."

    fresh = tmp_path / "fresh.db"
    imported = run("mark", "import", str(exported), "--db", str(fresh))
    assert imported.output.strip() == f"Imported 4 decision(s) from {exported} into {fresh} (4 new)."

    def stored(path: Path) -> set[tuple[str, str, float]]:
        with sqlite3.connect(path) as conn:
            return set(conn.execute("SELECT hash_a, hash_b, decided_at FROM not_duplicates"))

    assert stored(fresh) == stored(db) and len(stored(fresh)) == 4
    assert groups_of(photos, fresh) == []
    listing = run("mark", "list", "--db", str(fresh))
    assert listing.output.count("≠") == 4 and "copies of the same bytes" in listing.output

    forgotten = run("mark", "forget", str(a), str(c), "--db", str(fresh))
    assert forgotten.output.strip() == f"Forgot 1 decision(s) in {fresh}."
    assert groups_of(photos, fresh) == [{"a.jpg", "c.jpg"}]


@pytest.mark.parametrize(("args", "message"), [
    (["mark", "not-duplicates", "{photos}/a.jpg"], "name at least two files"),
    (["mark", "not-duplicates", "{photos}/a.jpg", "{photos}/missing.jpg"], "no file "),
    (["mark", "not-duplicates", "{photos}", "{photos}/a.jpg"], "is a folder"),
    (["mark", "not-duplicates", "{photos}/a.jpg", "{photos}/b.jpg", "--only", "{photos}/c.jpg"], "--only but is not"),
    (["mark", "not-duplicates", "--group", "{photos}/a.jpg", "1"], "is not JSON"),
    (["mark", "import", "{photos}/other.jpg"], "is not JSON"),
    (["mark", "import", "{bad}"], "decision 1: \"a\" must be a content hash"),
    (["mark", "forget", "--all", "{photos}/a.jpg"], "give no files with it"),
    (["mark", "list", "--db", "{photos}/none.db"], "no index at"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    photos = tmp_path / "photos"
    make_group(photos)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tool": "imgtwin", "kind": "not-duplicates", "format": 1, "algorithm": "xxh3-128",
                               "decisions": [{"a": "xyz", "b": "00" * 16, "decided_at": 1}]}))
    filled = [a.format(photos=photos, bad=bad) for a in args]
    if "--db" not in filled:
        filled += ["--db", str(tmp_path / "i.db")]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_the_readme_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README section's commands, each line as a shell would split it, in a folder holding three near
    copies of one beach (in-process: ten interpreters would cost half a minute)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Not duplicates: decisions that stay made", 1)[1]
    lines = section.split("```\n", 2)[1].splitlines()
    a, b, c = make_group(tmp_path / "photos")
    for path, name in ((a, "beach1.jpg"), (b, "beach2.jpg"), (c, "beach3.jpg")):
        path.rename(path.with_name(name))
    monkeypatch.chdir(tmp_path)
    out = []
    for line in lines:
        program, *args = shlex.split(line, comments=True)
        assert program == "imgtwin"
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (line, result.output)
        out.append(result.output)
    assert out[1] == "Remembered 1 pair(s) as not duplicates (1 new) in photos.db.\n"
    assert "photos/beach2.jpg" not in out[2] and "Decided 1 · near · 3 files" in out[3]
    assert out[4] == "Remembered 2 pair(s) as not duplicates (2 new) in photos.db.\n"  # beach3 from 1 and 2
    assert out[5].count("≠") == 3
    assert out[6] == f"Wrote 3 decision(s) to {tmp_path / 'decisions.json'}.\n"
    assert out[7] == "Imported 3 decision(s) from decisions.json into other.db (3 new).\n"
    assert out[8:] == ["Forgot 1 decision(s) in photos.db.\n", "Forgot 2 decision(s) in photos.db.\n"]


def test_an_index_made_before_decisions_existed_gains_their_table_and_keeps_its_rows(tmp_path: Path) -> None:
    db, photos = tmp_path / "i.db", tmp_path / "photos"
    a, b, c = make_group(photos)
    assert groups_of(photos, db) == [{"a.jpg", "b.jpg", "c.jpg"}]
    with sqlite3.connect(db) as conn:  # as an imgtwin of before this feature left it
        conn.execute("DROP TABLE not_duplicates")
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    assert run("mark", "list", "--db", str(db)).exit_code == 0
    assert run("mark", "not-duplicates", str(a), str(b), str(c), "--db", str(db)).exit_code == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == files == 4
        assert conn.execute("SELECT count(*) FROM not_duplicates").fetchone()[0] == 3
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # an addition: older imgtwins still read it
    assert groups_of(photos, db) == []
