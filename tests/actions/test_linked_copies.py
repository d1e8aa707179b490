"""After ``dedupe --action hardlink``, find, its JSON/CSV and the report count the links as done, as dedupe does.

A copy hard-linked to its keeper is the keeper's file under another name:
removing it frees nothing. Before, ``find`` still called its bytes
reclaimable while ``dedupe`` itself reported it "already linked".
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from tests.actions.conftest import make_library
from tests.helpers import REPO
from tests.reporting.test_html import browser, open_page  # noqa: F401  (browser: the module's Chromium fixture)

SCHEMA = json.loads((REPO / "docs/schemas/find.schema.json").read_text())


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A library whose three exact copies dedupe hard-linked to their keepers; its index; the folder of outputs."""
    folder = tmp_path_factory.mktemp("linked")
    library, db = make_library(folder / "lib"), str(folder / "i.db")
    code, out = run("dedupe", str(library), "--db", db, "--action", "hardlink", "--yes", "--journal",
                    str(folder / "j.jsonl"), "--no-progress", "--workers", "1")
    assert code == 1 and "3 file(s) hard-linked" in out and "1 skipped" in out, out  # the near copy: not linked
    return library, db, folder


def test_find_counts_links_to_the_keeper_as_done(linked: tuple[Path, str, Path]) -> None:
    library, db, folder = linked
    json_path, csv_path = folder / "found.json", folder / "found.csv"
    code, out = run("find", str(library), "--db", db, "--json", str(json_path), "--csv", str(csv_path),
                    "--workers", "1")
    assert code == 0, out
    document = json.loads(json_path.read_text())
    jsonschema.validate(document, SCHEMA)
    copies = [m for g in document["groups"] for m in g["members"] if m["linked"]]
    assert len(copies) == 3 and all(m["exact"] and not m["keep"] for m in copies)
    for group in document["groups"]:
        keeper = next(m for m in group["members"] if m["keep"])
        for m in group["members"]:  # linked: exactly the members that are the keeper's inode
            assert m["linked"] == (not m["keep"] and os.path.samefile(base(document, m), base(document, keeper)))
        assert group["reclaimable_bytes"] == sum(m["size"] for m in group["members"] if not m["keep"]
                                                 and not m["linked"])
    near = next(g for g in document["groups"] if g["category"] == "near")
    assert document["summary"]["reclaimable_bytes"] == near["reclaimable_bytes"] > 0
    assert document["summary"]["linked"] == 3 and document["summary"]["exact_copies"] == 3
    assert "3 already linked to it" in out and "0 B reclaimable · 1 already linked to the keeper" in out
    assert out.count("(hard link to the keeper)") == 3
    rows = list(csv.DictReader(csv_path.open(newline="")))
    assert sorted(r["path"] for r in rows if r["linked"] == "1") == sorted(m["path"] for m in copies)

    code, dry = run("dedupe", str(library), "--db", db, "--action", "trash", "--no-progress", "--workers", "1")
    assert "3 already linked to their keeper" in dry, dry  # the count find gives is the one dedupe gives


def base(document: dict[str, Any], member: dict[str, Any]) -> str:
    return os.path.join(str(document["base"]), str(member["path"]))


@pytest.mark.slow
def test_the_report_shows_links_as_not_reclaimable(browser: Any, linked: tuple[Path, str, Path]) -> None:  # noqa: F811
    library, db, folder = linked
    json_path, html = folder / "report.json", folder / "page.html"
    assert run("find", str(library), "--db", db, "--json", str(json_path), "-q", "--workers", "1")[0] == 0
    assert run("report", "--from-json", str(json_path), "--html", str(html), "--workers", "1", "-q")[0] == 0
    document = json.loads(json_path.read_text())
    page = open_page(browser, html)
    assert page.get_attribute('#summary [data-key="linked"]', "data-value") == "3"
    assert page.get_attribute('#summary [data-key="reclaimable_bytes"]', "data-value") == str(
        document["summary"]["reclaimable_bytes"])
    exact = [g for g in document["groups"] if g["category"] == "exact"]
    for group in exact:
        section = page.locator(f'.group[data-group-id="{group["id"]}"]')
        assert section.get_attribute("data-reclaimable") == "0"
        assert section.locator(".badge", has_text="hard link to the keeper").count() == 1
    group = page.locator(f'.group[data-group-id="{exact[0]["id"]}"]')
    group.locator('.member[data-index="1"] input[data-action=keep]').check()  # the link made keeper: the other name is the link
    assert group.locator('.member[data-index="1"]').get_attribute("data-keep") == "true"
    assert group.get_attribute("data-reclaimable") == "0"
    assert group.locator('.member[data-index="0"] .badge', has_text="hard link to the keeper").count() == 1
    with page.expect_download() as info:
        page.click("#export")
    plan = json.loads(Path(info.value.path()).read_text())
    jsonschema.validate(plan, SCHEMA)
    assert plan["summary"]["linked"] == 3 and plan["summary"]["reclaimable_bytes"] == document["summary"][
        "reclaimable_bytes"]
    assert not page.problems
    page.close()
