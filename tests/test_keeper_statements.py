"""The keeper a person can state, read and trust: preferences, the rule in words, metadata the keeper lacks.

Real files (JPEG with EXIF made by piexif, HEIC by pillow-heif), the real CLI and a real index.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import piexif
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from imgtwin.cli import main
from imgtwin.matching.keeper import Evidence, FileInfo, keeper_order, rank_files
from imgtwin.matching.keeper_words import KEEPER_REASONS
from imgtwin.matching.preferences import Preferences
from imgtwin.options import MatchOptions
from tests.helpers import camera_exif, camera_jpeg, exif_thumbnail_of, phone_heic, synthetic_photo


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result


def find_json(root: Path, *args: str) -> dict[str, Any]:
    out = root.parent / "find.json"
    run("find", str(root), "--db", str(root.parent / "index.db"), "--json", str(out), "-q", *args)
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def keepers(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each group by its keeper's file name."""
    return {Path(next(m for m in g["members"] if m["keep"])["path"]).name: g for g in document["groups"]}


def test_a_heic_preference_keeps_the_heic_over_its_jpeg_export_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    picture = synthetic_photo(3, (640, 480))
    phone_heic(root / "IMG_0001.HEIC", picture)
    camera_jpeg(root / "IMG_0001.jpg", picture, quality=92)  # the export: same pixels, the camera's EXIF
    plain = keepers(find_json(root))
    assert list(plain) == ["IMG_0001.jpg"] and plain["IMG_0001.jpg"]["keeper_reason"] == "camera original (EXIF)"
    stated = keepers(find_json(root, "--prefer-format", "heic,jpg"))
    assert list(stated) == ["IMG_0001.HEIC"]
    assert stated["IMG_0001.HEIC"]["keeper_rule"] == "preferred-format"
    assert stated["IMG_0001.HEIC"]["keeper_reason"] == "preferred format"
    text = run("find", str(root), "--db", str(tmp_path / "index.db"), "--prefer-format", "heic", "--no-progress")
    assert "kept: preferred format" in " ".join(text.output.split())


def test_an_unknown_format_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["find", str(tmp_path), "--db", str(tmp_path / "i.db"),
                                       "--prefer-format", "heic,jpgg"])
    assert result.exit_code == 2 and "unknown format 'jpgg'" in result.output
    with pytest.raises(ValueError, match="unknown format 'bmpx'"):
        MatchOptions(prefer_format="bmpx")


def test_prefer_folders_are_ordered_and_say_so(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for folder in ("a", "b", "c"):
        (root / folder).mkdir(parents=True)
    synthetic_photo(4, (320, 240)).save(root / "c" / "x.png")  # the oldest: kept without a preference
    for folder in ("a", "b"):
        (root / folder / "x.png").write_bytes((root / "c" / "x.png").read_bytes())

    def kept(*prefer: str) -> tuple[str, str]:
        args = [a for folder in prefer for a in ("--prefer", str(root / folder))]
        (group,) = find_json(root, *args)["groups"]
        keeper = next(m for m in group["members"] if m["keep"])
        return Path(keeper["path"]).parent.name, group["keeper_reason"]

    assert kept("b", "a") == ("b", "preferred folder")
    assert kept("a", "b") == ("a", "preferred folder")
    assert kept("a") == ("a", "preferred folder")  # the single-folder use, without --keep prefer-folder
    assert kept("a", "b") == kept("a", "b", "c")


def test_a_stated_preference_never_keeps_a_crop_or_an_upscale_over_its_source() -> None:
    source = FileInfo("/p/other/x.jpg", 100, 1, 800, 600, "JPEG")
    copy = FileInfo("/p/preferred/x.heic", 100, 2, 800, 600, "HEIF")
    stated = Preferences(folders=("/p/preferred",), formats=("heic",))
    assert keeper_order([source, copy], prefer=stated) == [1, 0]
    assert keeper_order([source, copy], prefer=stated, derived=[1]) == [0, 1]  # a crop or screenshot of it
    ranking = rank_files([source, copy], prefer=stated, evidence=Evidence(upscaled=frozenset({1})))
    assert ranking.order == [0, 1] and ranking.rule(0, [1]) == "upscaled"
    assert KEEPER_REASONS[ranking.rule(0, [1])] == "the others are upscaled"


def gps_exif() -> bytes:
    block = piexif.load(camera_exif((320, 240), None))
    block["GPS"] = {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (2400, 100)),
                    piexif.GPSIFD.GPSLongitudeRef: b"E", piexif.GPSIFD.GPSLongitude: ((2, 1), (21, 1), (0, 1))}
    return bytes(piexif.dump(block))


@pytest.fixture
def lost_position(tmp_path: Path) -> Path:
    """A full-size copy without EXIF (the keeper) and a half-size copy with the camera's EXIF and GPS."""
    root = tmp_path / "photos"
    root.mkdir()
    picture = synthetic_photo(5, (640, 480))
    picture.save(root / "big.jpg", quality=92)
    camera_jpeg(root / "small.jpg", picture.resize((320, 240), Image.Resampling.LANCZOS), exif=gps_exif(),
                quality=85)
    return root


def test_a_keeper_without_the_gps_a_removed_copy_carries_is_flagged_everywhere(lost_position: Path) -> None:
    root, tmp = lost_position, lost_position.parent
    (group,) = find_json(root)["groups"]
    assert Path(next(m for m in group["members"] if m["keep"])["path"]).name == "big.jpg"
    assert group["keeper_reason"] == "higher resolution" and group["keeper_rule"] == "resolution"
    assert group["keeper_lacks"] == ["gps", "date_taken", "camera"]
    assert group["keeper_warning"] == ("the keeper lacks the GPS position, capture date, camera make/model a "
                                       "removed copy carries")
    run("find", str(root), "--db", str(tmp / "index.db"), "--csv", str(tmp / "find.csv"), "-q")
    rows = list(csv.DictReader((tmp / "find.csv").open(newline="")))
    assert {r["keeper_reason"] for r in rows} == {"higher resolution"}
    assert {r["keeper_lacks"] for r in rows} == {"gps;date_taken;camera"}
    text = " ".join(run("find", str(root), "--db", str(tmp / "index.db"), "--no-progress").output.split())
    assert "kept: higher resolution" in text and "the keeper lacks the GPS position" in text
    assert "1 keeper(s) lack metadata a removed copy carries" in text


def test_dedupe_warns_of_the_lost_gps_before_acting(lost_position: Path) -> None:
    root, tmp = lost_position, lost_position.parent
    warning = "Warning: group 1: the keeper lacks the GPS position, capture date, camera make/model"
    dry = run("dedupe", str(root), "--db", str(tmp / "index.db"), "--action", "move", "--move-to",
              str(tmp / "out"), "--no-progress")
    assert warning in dry.output and dry.output.index(warning) < dry.output.index("small.jpg")
    applied = run("dedupe", str(root), "--db", str(tmp / "index.db"), "--action", "move", "--move-to",
                  str(tmp / "out"), "--no-progress", "--yes")
    assert warning in applied.output and not (root / "small.jpg").exists()


def test_a_soft_camera_original_is_kept_over_its_downscaled_copy_without_exif(tmp_path: Path) -> None:
    """The issue's case: 809x539, quality 95, camera EXIF against 701x467, quality 75, no EXIF.

    A soft picture reduced by 15 % keeps all its detail, so the upscale check took the original for an
    enlargement of its copy, and the copy was kept with no mark; the original's EXIF settles it now.
    """
    root = tmp_path / "photos"
    root.mkdir()
    for seed in range(3):
        picture = synthetic_photo(seed, (809, 539)).filter(ImageFilter.GaussianBlur(1))
        exif = camera_exif(picture.size, exif_thumbnail_of(picture))
        picture.save(root / f"DSC_{seed}.jpg", quality=95, exif=exif)
        picture.resize((701, 467), Image.Resampling.LANCZOS).save(root / f"copy {seed}.jpg", quality=75)
    groups = keepers(find_json(root))
    assert sorted(groups) == ["DSC_0.jpg", "DSC_1.jpg", "DSC_2.jpg"]
    assert {g["keeper_reason"] for g in groups.values()} == {"higher resolution"}
    assert {g["keeper_confidence"] for g in groups.values()} == {"high"}


def test_uncertain_marks_a_keeper_the_evidence_contradicts() -> None:
    """A keeper chosen on a content verdict, against a rival with the better JPEG quality: in doubt."""
    from imgtwin.hashing.signals import KeeperSignals

    def file(name: str, quality: float, camera: bool = False) -> FileInfo:
        return FileInfo(f"/p/{name}.jpg", 100, 1, 800, 600, "JPEG", KeeperSignals(jpeg_quality=quality, camera=camera))

    upscaled = Evidence(upscaled=frozenset({1}))
    agreeing = rank_files([file("a", 95), file("b", 75)], evidence=upscaled)
    assert agreeing.rule(0, [1]) == "upscaled" and agreeing.confidence(0, [1]) == "high"
    contested = rank_files([file("a", 75), file("b", 95, camera=True)], evidence=upscaled)
    assert contested.rule(0, [1]) == "upscaled" and contested.confidence(0, [1]) == "low"
    told_by_path = rank_files([file("a", 90), file("bb", 90)])
    assert told_by_path.rule(0, [1]) == "path" and told_by_path.confidence(0, [1]) == "low"
