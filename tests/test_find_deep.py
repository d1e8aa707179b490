"""``find --deep`` end to end on small real images: the copies global hashes miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from imgtwin.options import MatchOptions
from imgtwin.persistence.local_features import LocalFeatureStore
from imgtwin.persistence.sqlite import read_rows
from imgtwin.runs.deep import LOCAL_SPEC, compute_local_features, missing_local_features
from imgtwin.runs.find import find_duplicates
from imgtwin.runs.scan import ScanSettings
from tests.helpers import (
    save_phone_edits,
    screenshot_of,
    shared_photo,
    shifted_views,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs/schemas/find.schema.json").read_text())
EDITS = ("straightened.jpg", "screenshot.png", "stickers.jpg", "cropped.jpg", "keystone.jpg")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deep") / "library"
    (root / "edits").mkdir(parents=True)
    original = shared_photo(1, 1200)
    original.save(root / "original.jpg", quality=92)
    save_phone_edits(original, root / "edits")
    screenshot_of(original, (1170, 2532)).save(root / "edits" / "screenshot.png")  # more pixels, larger file
    (root / "edits" / "original copy.jpg").write_bytes((root / "original.jpg").read_bytes())
    left, right = shifted_views(shared_photo(12, 1600), 0.5)
    left.save(root / "scene left.jpg", quality=90)
    right.save(root / "scene right.jpg", quality=90)
    for k in (20, 21, 22):
        shared_photo(k, 1000).save(root / f"other{k}.jpg", quality=90)
    return root


def by_name(result) -> dict[str, tuple[int, object]]:
    return {os.path.basename(m.path): (g.id, m) for g in result.groups for m in g.members}


@pytest.mark.slow
def test_deep_groups_every_edit_with_its_original_and_keeps_the_original(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    plain = by_name(find_duplicates([str(library)], db_path=db))
    # The default finds them too now (issue 24: framed pictures, partial agreement, escalation to local features).
    assert all(plain[name][0] == plain["original.jpg"][0] for name in EDITS)
    names = by_name(find_duplicates([str(library)], db_path=db, match=MatchOptions(deep=True)))
    group = names["original.jpg"][0]
    for name in (*EDITS, "original copy.jpg"):
        assert names[name][0] == group, name
    keeper = [n for n, (g, m) in names.items() if g == group and m.keep]
    assert keeper in (["original.jpg"], ["original copy.jpg"])
    transforms = {n: m.transform for n, (g, m) in names.items() if g == group}
    assert "rotated 4°" in transforms["straightened.jpg"]
    assert transforms["screenshot.png"] == "inside a larger frame"
    assert transforms["cropped.jpg"].startswith("crop 2")
    assert transforms["stickers.jpg"] is None
    for name in ("scene left.jpg", "scene right.jpg", "other20.jpg", "other21.jpg", "other22.jpg"):
        assert name not in names, name


@pytest.mark.slow
def test_a_screenshot_or_crop_is_never_kept_even_when_its_file_is_larger(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    for policy in ("best", "largest", "newest"):
        names = by_name(find_duplicates([str(library)], db_path=db, match=MatchOptions(deep=True, keep=policy)))
        group = names["original.jpg"][0]
        kept = [n for n, (g, m) in names.items() if g == group and m.keep]
        assert kept[0] not in ("screenshot.png", "cropped.jpg", "straightened.jpg"), (policy, kept)
    largest = by_name(find_duplicates([str(library)], db_path=db, scan=False, match=MatchOptions(keep="largest")))
    # Without --deep the screenshot is found too now (its framed picture, issue 24), and never kept either.
    assert largest["screenshot.png"][0] == largest["original.jpg"][0]
    assert not largest["screenshot.png"][1].keep


@pytest.mark.slow
def test_local_features_are_stored_by_content_reused_and_files_rows_untouched(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    find_duplicates([str(library)], db_path=db)
    before = list(read_rows(db))
    assert missing_local_features(db, [str(library)])  # a default find computes local features for few files
    with LocalFeatureStore(db) as store:
        escalated, _ = store.count()
    # only those of the pairs it escalates (tests/runs/test_escalate.py): the original and its edits at most
    assert escalated <= len(EDITS) + 1 < len(before)
    find_duplicates([str(library)], db_path=db, match=MatchOptions(deep=True))
    after = list(read_rows(db))
    assert [{k: v for k, v in r.items() if k != "scanned_at"} for r in before] == \
        [{k: v for k, v in r.items() if k != "scanned_at"} for r in after]
    files = len(before)
    with LocalFeatureStore(db) as store:
        rows, size = store.count(LOCAL_SPEC.id)
    assert rows == files - 1  # the byte copy shares its original's row
    assert size / rows <= 8 * 1024 + 100
    assert missing_local_features(db, [str(library)]) == []
    again = compute_local_features(ScanSettings(roots=(str(library),), db_path=db))
    assert again.needed == 0  # a later --deep decodes nothing


@pytest.mark.slow
def test_cli_find_deep_json_validates_and_report_uses_the_index(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "groups.json"
    db = str(tmp_path / "i.db")
    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(library), "--db", db, "--deep", "--json",
                           str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "inside a larger frame" in done.stdout
    document = json.loads(out.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["deep"] is True
    html = tmp_path / "review.html"
    report = subprocess.run([sys.executable, "-m", "imgtwin", "report", str(library), "--db", db, "--deep",
                             "--html", str(html), "-q"],
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "inside a larger frame" in html.read_text() or "inside a larger frame" in out.read_text()
    plain = subprocess.run([sys.executable, "-m", "imgtwin", "find", "--db", db, "--no-deep", "--json", str(out),
                            "-q"], capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert json.loads(out.read_text())["deep"] is False


@pytest.mark.slow
def test_scan_deep_computes_what_find_deep_then_reuses(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(library), "--db", db, "--deep",
                           "--no-progress"], capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Local features: 11 computed, 0 failed" in done.stdout  # 12 files, one byte copy
    assert missing_local_features(db, [str(library)]) == []
    again = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(library), "--db", db, "--deep",
                            "--no-progress"], capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert "Local features: 0 computed" in again.stdout
