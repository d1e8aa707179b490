"""``--reference DIR``: files under it are never acted on, by any action, with or without ``--plan``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgtwin.actions import apply_plan, plan_from_document, preview_plan
from imgtwin.cli import main
from imgtwin.reporting.groups import groups_document, write_json
from imgtwin.runs.find import find_duplicates
from tests.actions.conftest import SCAN, snapshot
from tests.helpers import synthetic_photo

ACTIONS = ["trash", "move", "hardlink", "symlink", "delete"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def contents(root: Path) -> dict[str, tuple[str, str]]:
    """Every path under ``root`` with its kind and bytes (link counts left out: a link *to* a file is no change)."""
    return {path: (kind, digest) for path, (kind, digest, _) in snapshot(root).items()}


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """``lib/archive`` (the reference: older originals) and ``lib/inbox`` (copies of them), one root."""
    lib = tmp_path / "lib"
    archive, inbox = lib / "archive", lib / "inbox"
    (archive / "twin").mkdir(parents=True)
    inbox.mkdir()
    for i in range(2):
        synthetic_photo(300 + i, (64, 48)).save(archive / f"a{i}.png")
        shutil.copy2(archive / f"a{i}.png", inbox / f"a{i}.png")
    synthetic_photo(7, (96, 72)).save(archive / "big7.png")
    synthetic_photo(7, (80, 60)).save(inbox / "small7.png")  # a near copy
    synthetic_photo(9, (64, 48)).save(archive / "a9.png")
    shutil.copy2(archive / "a9.png", archive / "twin" / "a9.png")  # a group made only of reference files
    synthetic_photo(5, (64, 48)).save(inbox / "unique.png")
    old = 1_500_000_000_000_000_000
    for path in archive.rglob("*.png"):
        os.utime(path, ns=(old, old))  # the originals are the older files
    return lib


def _dedupe(lib: Path, tmp_path: Path, action: str, *extra: str) -> tuple[int, str]:
    args = ["dedupe", "--db", str(tmp_path / "i.db"), "--action", action, "--yes", "--journal",
            str(tmp_path / f"j-{len(os.listdir(tmp_path))}.jsonl"), *extra]
    if action == "move":
        args += ["--move-to", str(tmp_path / "moved")]
    if action == "delete":
        args.append("--i-understand-delete-is-permanent")
    return run(*args)


@pytest.mark.slow
@pytest.mark.parametrize("action", ACTIONS)
def test_reference_files_are_never_acted_on(action: str, collection: Path, tmp_path: Path) -> None:
    archive = collection / "archive"
    before = contents(archive)
    code, out = _dedupe(collection, tmp_path, action, str(collection), "--reference", str(archive),
                        "--no-progress", "--workers", "1")
    assert code == (1 if action in ("hardlink", "symlink") else 0), out  # links: the near copy is skipped
    assert contents(archive) == before
    assert "reference   " in out and "twin/a9.png: in the reference folder" in out
    assert "1 in reference folders left alone" in out
    inbox = collection / "inbox"
    for name in ("a0.png", "a1.png"):  # the copies outside the reference folder were acted on
        path = inbox / name
        if action in ("trash", "move", "delete"):
            assert not path.exists()
        elif action == "hardlink":
            assert os.path.samefile(path, archive / name)
        else:
            assert os.readlink(path) == str(archive / name)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_plan_cannot_make_a_reference_file_a_victim(action: str, collection: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    result = find_duplicates([str(collection)], db_path=db, options=SCAN)
    document = groups_document(result.groups, result.errors, 6, True)
    swapped = 0
    for group in document["groups"]:
        names = [m["path"] for m in group["members"]]
        if any(n.endswith("inbox/a0.png") for n in names):
            for m in group["members"]:  # keep the inbox copy: the archive's original becomes a victim
                m["keep"] = not m["keep"]
            swapped += 1
    assert swapped == 1
    plan_file = tmp_path / "plan.json"
    write_json(str(plan_file), document)
    archive = collection / "archive"
    before = contents(archive)
    code, out = _dedupe(collection, tmp_path, action, "--plan", str(plan_file), str(collection),
                        "--reference", str(archive))
    assert code == 1, out
    assert "but would act on" in out and "a reference file must be the keeper" in out
    assert contents(archive) == before
    assert (collection / "inbox" / "a0.png").exists()  # its group was refused as a whole
    if action in ("trash", "move", "delete"):
        assert not (collection / "inbox" / "a1.png").exists()  # the other groups went ahead


def _document(collection: Path, db: str) -> dict[str, Any]:
    result = find_duplicates([str(collection)], db_path=db, options=SCAN)
    return groups_document(result.groups, result.errors, 6, True)


def test_reference_through_folder_links(collection: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    document = _document(collection, db)
    archive = collection / "archive"
    alias = tmp_path / "alias"
    alias.symlink_to(archive)  # the reference folder named through a link
    plan = plan_from_document(document, "trash", roots=[str(collection)], db=db, reference=[str(alias)])
    assert plan.reference == (str(archive),)
    protected = [i for i in plan.items if i.reference]
    assert [os.path.basename(i.path) for i in protected] == ["a9.png"]
    # A victim named through a folder link into the reference folder is protected too.
    inside = collection / "inbox" / "way-in"
    inside.symlink_to(archive / "twin")
    for group in document["groups"]:
        for m in group["members"]:
            m["path"] = m["path"].replace(str(archive / "twin"), str(inside))
    plan = plan_from_document(document, "trash", roots=[str(collection)], db=db, reference=[str(archive)])
    assert [i.reference for i in plan.items if i.path.startswith(str(inside))] == [str(archive)]
    # Checked again right before acting: a plan made without the reference still never touches it.
    plan = plan_from_document(_document(collection, db), "delete", roots=[str(collection)], db=db)
    assert not [i for i in plan.items if i.reference]
    protected_plan = type(plan)(plan.action, plan.roots, plan.items, plan.refused, plan.move_to,
                                plan.display_roots, (str(archive),))
    report = preview_plan(protected_plan)
    assert {os.path.basename(o.item.path) for o in report.outcomes if o.status == "protected"} == {"a9.png"}
    before = contents(archive)
    apply_plan(protected_plan, str(tmp_path / "j.jsonl"), allow_delete=True)
    assert contents(archive) == before


def test_move_to_inside_a_reference_folder_is_refused(collection: Path, tmp_path: Path) -> None:
    archive = collection / "archive"
    code, out = run("dedupe", str(collection / "inbox"), "--db", str(tmp_path / "i.db"), "--action", "move",
                    "--move-to", str(archive / "dupes"), "--reference", str(archive))
    assert code == 2 and "inside the reference folder" in out
    code, out = run("dedupe", str(collection), "--db", str(tmp_path / "i.db"), "--action", "trash",
                    "--reference", str(tmp_path / "missing"))
    assert code == 2 and "--reference" in out


def test_the_journal_records_protected_files(collection: Path, tmp_path: Path) -> None:
    code, _ = _dedupe(collection, tmp_path, "trash", str(collection), "--reference", str(collection / "archive"),
                      "--no-progress", "--workers", "1")
    assert code == 0
    journal = next(tmp_path.glob("j-*.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert records[0]["reference"] == [str(collection / "archive")]
    assert [r["path"].endswith("twin/a9.png") for r in records if r["type"] == "skipped" and r.get("protected")] == [True]
