"""A member grouped beyond the hash threshold says why, in the text, the JSON, the CSV and the report page.

A flat sky and its re-encoded copy are 20-30 bits apart (a low-detail picture's hash bits are noise) and
are grouped on tone and layout; before, the table showed "28" with no word on why (issue 25).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from imgtwin.cli import main
from imgtwin.matching.grouping import MATCHED_BY, Matches, form_groups
from imgtwin.options import MatchOptions
from tests.helpers import synthetic_photo
from tests.reporting.test_html import SCHEMA, browser, open_page  # noqa: F401 (browser: the Chromium fixture)

FLAT = MATCHED_BY["flat"]


def _sky() -> Image.Image:
    """A clear sky: a smooth gradient, light to deeper blue."""
    y, x = np.linspace(0, 1, 300)[:, None], np.linspace(0, 1, 400)[None, :]
    sky = np.stack(np.broadcast_arrays(110 + 40 * y + 3 * x, 160 + 30 * y + 0 * x, 230 - 10 * y + 0 * x), -1)
    return Image.fromarray(sky.astype(np.uint8))


@pytest.fixture
def skies(tmp_path: Path) -> Path:
    """A sky with a re-encoded copy (14 bits from it) and a small copy (22 bits), and a photo with a small copy."""
    root = tmp_path / "pictures"
    root.mkdir()
    _sky().save(root / "sky.png")
    _sky().save(root / "sky again.jpg", quality=80)
    _sky().resize((200, 150)).save(root / "sky small.jpg", quality=85)
    photo = synthetic_photo(1)
    photo.save(root / "photo.jpg", quality=92)
    photo.resize((480, 360)).save(root / "photo small.jpg", quality=85)
    return root


def test_text_json_and_csv_say_why_a_pair_beyond_the_threshold_was_grouped(skies: Path, tmp_path: Path) -> None:
    out = {"json": tmp_path / "g.json", "csv": tmp_path / "g.csv"}
    result = CliRunner().invoke(main, ["find", str(skies), "--db", str(tmp_path / "i.db"), "--no-progress",
                                       "--workers", "1", "--json", str(out["json"]), "--csv", str(out["csv"])])
    assert result.exit_code == 0, result.output
    document = json.loads(out["json"].read_text())
    jsonschema.validate(document, SCHEMA)
    members = {Path(m["path"]).name: m for g in document["groups"] for m in g["members"]}
    assert set(members) == {"sky.png", "sky again.jpg", "sky small.jpg", "photo.jpg", "photo small.jpg"}
    far = [m for m in members.values() if m["distance"] > MatchOptions().bits]
    assert far and all(m["reason"] == FLAT and "sky" in m["path"] for m in far)  # every one says why
    assert [m["reason"] for n, m in members.items() if n.startswith("photo")] == [None, None]  # the hash did
    line = next(line for line in result.output.splitlines() if line.endswith(f"({FLAT})"))
    assert int(line.split()[0]) > MatchOptions().bits
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out["csv"].open(newline=""))}
    assert {n: r["reason"] for n, r in rows.items()} == {n: m["reason"] or "" for n, m in members.items()}


@pytest.mark.slow
def test_the_report_page_shows_the_reason(browser: Any, skies: Path, tmp_path: Path) -> None:  # noqa: F811
    html = tmp_path / "r.html"
    db = str(tmp_path / "i.db")
    assert CliRunner().invoke(main, ["scan", str(skies), "--db", db, "--no-progress", "--workers", "1"]).exit_code == 0
    assert CliRunner().invoke(main, ["report", "--db", db, "--html", str(html), "-q"]).exit_code == 0
    page = open_page(browser, html)
    reasons = page.eval_on_selector_all(".member .reason", "els => els.map(e => e.textContent)")
    page.close()
    assert reasons == [FLAT, FLAT]


def test_a_member_carries_the_basis_of_its_match_with_the_keeper() -> None:
    """``Matches.basis`` reaches the member: a twin of the member too; the keeper and a hash match have none."""
    matches = Matches(np.array([0, 0]), np.array([1, 2]), np.array([18, 3]), ("identity", "identity"),
                      basis=("flat", ""))
    [group] = form_groups(4, matches, [0, 1, 2, 3], exact_labels=[-1, 7, -1, 7])
    assert {m.index: m.basis for m in group.members} == {0: "", 1: "flat", 3: "flat", 2: ""}
    joined = matches.concat(Matches(np.array([3]), np.array([0]), np.array([9]), ("rotated 3°",), basis=("local",)))
    assert joined.bases() == ("flat", "", "local")
    assert Matches(np.array([0]), np.array([1]), np.array([1]), ("identity",)).bases() == ("",)
