"""Plans a person (or an attacker) wrote: the keeper is held to the members' standard, near groups re-verified."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgtwin.actions import PlanError, apply_plan, plan_from_document, plan_from_file, preview_plan
from imgtwin.cli import main
from imgtwin.reporting.groups import groups_document, write_json
from imgtwin.runs.find import find_duplicates
from tests.actions.conftest import SCAN, snapshot


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def find_document(library: Path, db: str) -> dict[str, Any]:
    result = find_duplicates([str(library)], db_path=db, options=SCAN)
    return groups_document(result.groups, result.errors, 6, True)


def group_of(document: dict[str, Any], keeper_name: str) -> dict[str, Any]:
    return next(g for g in document["groups"] if os.path.basename(g["members"][0]["path"]) == keeper_name)


def member(path: Path | str, size: int | None = None, keep: bool = False) -> dict[str, Any]:
    size = os.path.getsize(path) if size is None else size
    return {"path": str(path), "size": size, "width": None, "height": None, "format": None, "distance": 0,
            "keep": keep, "transform": None}


def one_group(keeper: Path | str, *members: Path, category: str = "near") -> dict[str, Any]:
    return {"tool": "imgtwin", "threshold": 6, "rotations": True, "groups": [
        {"id": 1, "category": category, "members": [member(keeper, keep=True)] + [member(m) for m in members]}]}


@pytest.mark.parametrize("keeper", ["outside", "passwd", "not_an_image", "text_in_roots"])
def test_a_keeper_outside_the_roots_or_not_an_image_refuses_its_group(
    keeper: str, library: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "i.db")
    (library / "notes.jpg").write_text("not a picture\n")  # scanned: recorded as not_an_image
    (library / "notes.txt").write_text("not a picture\n")  # not named like an image: never scanned
    find_document(library, db)
    keeper_path = {"outside": tmp_path / "outside" / "notes.txt", "passwd": Path("/etc/passwd"),
                   "not_an_image": library / "notes.jpg", "text_in_roots": library / "notes.txt"}[keeper]
    if keeper == "outside":
        keeper_path.parent.mkdir()
        keeper_path.write_text("not a picture either\n")
    victim = library / "sub" / "copy0.png"
    plan_file = tmp_path / "plan.json"
    write_json(str(plan_file), one_group(keeper_path, victim, category="exact"))
    before = snapshot(library)

    plan = plan_from_file(str(plan_file), "delete", roots=[str(library)], db=db)
    assert plan.items == () and len(plan.refused) == 1
    reason = plan.refused[0].reason
    assert str(keeper_path) in reason
    expected = {"outside": "is outside the scanned folders", "passwd": "is outside the scanned folders",
                "not_an_image": "is not an image the scan could read (not_an_image)",
                "text_in_roots": "is not a file of the index: scan it first"}[keeper]
    assert expected in reason
    report = apply_plan(plan, str(tmp_path / "j.jsonl"), allow_delete=True)
    assert report.count("done") == 0 and not report.complete
    assert snapshot(library) == before  # the only copy of the picture is still there

    code, out = run("dedupe", "--plan", str(plan_file), str(library), "--db", db, "--action", "delete", "--yes",
                    "--i-understand-delete-is-permanent", "--journal", str(tmp_path / "j2.jsonl"))
    assert code == 1 and "Refused: group 1: its keeper" in out and victim.exists()


def test_a_plan_calling_two_unrelated_images_a_near_group_acts_on_neither(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    document = find_document(library, db)
    near = group_of(document, "big7.png")
    assert near["category"] == "near"
    near["members"].append(member(library / "unique8.png"))  # an unrelated picture, in the index
    bogus = one_group(library / "photo0.png", library / "photo1.png")  # two different photos
    document["groups"].append(bogus["groups"][0] | {"id": 99})
    before = {p: (library / p).read_bytes() for p in ("unique8.png", "photo1.png", "photo0.png")}

    plan = plan_from_document(document, "trash", roots=[str(library)], db=db)
    reasons = {os.path.basename(i.path): i.refusal for i in plan.items}
    assert reasons["small7.png"] is None  # the real near copy is verified again and kept in the plan
    assert reasons["unique8.png"] is not None and "not a verified match of the keeper" in reasons["unique8.png"]
    assert "not a verified match" in str(reasons["photo1.png"])
    report = apply_plan(plan, str(tmp_path / "j.jsonl"))
    status = {os.path.basename(o.item.path): o.status for o in report.outcomes}
    assert status["small7.png"] == "done" and status["unique8.png"] == "skipped" and status["photo1.png"] == "skipped"
    assert all((library / p).read_bytes() == data for p, data in before.items())


def test_near_verification_uses_the_plans_threshold_capped_at_the_command_lines(
    library: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "i.db")
    document = find_document(library, db)
    strict = copy.deepcopy(document) | {"threshold": 0}
    loose = copy.deepcopy(document) | {"threshold": 63}  # the CLI allows 20 at most
    for doc in (document, strict, loose):
        plan = plan_from_document(doc, "trash", roots=[str(library)], db=db)
        assert not plan.refused
    for bad in ("x", -1, True, 6.5):
        with pytest.raises(PlanError, match="threshold"):
            plan_from_document(copy.deepcopy(document) | {"threshold": bad}, "trash", roots=[str(library)], db=db)
    with pytest.raises(PlanError, match="rotations"):
        plan_from_document(copy.deepcopy(document) | {"rotations": "yes"}, "trash", roots=[str(library)], db=db)


def test_a_plan_calling_different_bytes_exact_or_naming_unindexed_files_is_refused(
    library: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "i.db")
    document = find_document(library, db)
    group_of(document, "big7.png")["category"] = "exact"  # a near pair claimed to be byte copies
    late = library / "sub" / "late copy.png"
    shutil.copy2(library / "photo2.png", late)  # a copy the index never saw
    group_of(document, "photo2.png")["members"].append(member(late))
    plan = plan_from_document(document, "hardlink", roots=[str(library)], db=db)
    reasons = {os.path.basename(i.path): i.refusal or "" for i in plan.items}
    assert "calls it an exact copy, but the index holds other bytes" in reasons["small7.png"]
    assert "not a file of the index: scan it first" in reasons["late copy.png"]
    assert reasons["copy2.png"] == ""
    report = preview_plan(plan)
    assert {os.path.basename(o.item.path) for o in report.outcomes if o.status == "skipped"} == {
        "small7.png", "late copy.png"}


def test_plan_from_document_plans_what_plan_from_file_plans(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    document = find_document(library, db)
    plan_file = tmp_path / "plan.json"
    write_json(str(plan_file), document)
    from_file = plan_from_file(str(plan_file), "move", roots=[str(library)], db=db, move_to=str(tmp_path / "to"))
    in_memory = plan_from_document(document, "move", roots=[str(library)], db=db, move_to=str(tmp_path / "to"))
    assert from_file.items == in_memory.items and len(from_file.items) == 4
    with pytest.raises(PlanError, match="not an `imgtwin find --json` document"):
        plan_from_document({"groups": "none"}, "trash", roots=[str(library)], db=db)


def test_a_nul_byte_in_a_plan_path_is_a_one_line_error(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    document = find_document(library, db)
    group_of(document, "photo0.png")["members"][1]["path"] += "\0.png"
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(document))
    before = snapshot(library)
    code, out = run("dedupe", "--plan", str(plan_file), "--db", db, "--action", "trash", "--yes",
                    "--journal", str(tmp_path / "j.jsonl"))
    assert code == 2 and "NUL byte" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1 and not (tmp_path / "j.jsonl").exists()
    assert snapshot(library) == before
    document["groups"][0]["members"][0]["path"] = "\ud800.png"  # a lone surrogate: no file can have that name
    with pytest.raises(PlanError, match="not valid text"):
        plan_from_document(document, "trash", roots=[str(library)], db=db)


def test_move_to_through_a_link_into_a_scanned_folder_is_refused(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    (library / "dupes").mkdir()
    link = tmp_path / "looks-outside"
    link.symlink_to(library / "dupes")
    before = snapshot(library)
    code, out = run("dedupe", str(library), "--db", db, "--action", "move", "--move-to", str(link), "--yes",
                    "--journal", str(tmp_path / "j.jsonl"), "--no-progress", "--workers", "1")
    assert code == 2 and "is inside the scanned folder" in out and "Traceback" not in out
    assert snapshot(library) == before
    plan_file = tmp_path / "plan.json"
    write_json(str(plan_file), find_document(library, db))
    code, out = run("dedupe", "--plan", str(plan_file), "--db", db, "--action", "move", "--move-to",
                    str(link / "deeper"), "--yes", "--journal", str(tmp_path / "j.jsonl"))
    assert code == 2 and "is inside the scanned folder" in out
    assert snapshot(library) == before


def test_the_files_a_refused_group_keeps_stay_protected(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    find_document(library, db)
    original, copy = library / "photo0.png", library / "sub" / "copy0.png"
    document = one_group(original, copy, category="exact")
    document["groups"][0]["members"][1]["keep"] = True  # two keeps: refused
    document["groups"].append({"id": 2, "category": "exact", "members": [member(original, keep=True), member(copy)]})
    plan = plan_from_document(document, "delete", roots=[str(library)], db=db)
    assert [g.group_id for g in plan.refused] == [1]
    report = apply_plan(plan, str(tmp_path / "j.jsonl"), allow_delete=True)
    assert [o.reason for o in report.outcomes] == ["it is the file kept for group 1"] and copy.exists()
