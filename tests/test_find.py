"""``imgtwin find`` and ``find_duplicates`` on small real images."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from PIL import Image, ImageOps
from rich.console import Console

from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.records import ProcessingSummary
from imgtwin.reporting.composite import NullReporter
from imgtwin.runs.context import RunContext
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs/schemas/find.schema.json").read_text())


def photo(index: int, size: int = 640) -> Image.Image:
    return shared_photo(index, size)


def crop_edges(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction), int(h * fraction)
    return image.crop((dx, dy, w - dx, h - dy))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("find") / "library"
    (root / "copies").mkdir(parents=True)
    original = photo(0)
    original.save(root / "original.jpg", quality=92)
    (root / "copies" / "exact.jpg").write_bytes((root / "original.jpg").read_bytes())
    original.resize((480, int(480 * original.height / original.width))).save(root / "copies" / "small.jpg", quality=70)
    ImageOps.expand(original, border=40, fill="white").save(root / "copies" / "padded.png")
    crop_edges(original, 0.04).save(root / "copies" / "cropped.jpg", quality=90)
    original.transpose(Image.Transpose.ROTATE_90).save(root / "copies" / "rotated.jpg", quality=75)
    ImageOps.mirror(original).save(root / "copies" / "mirrored.webp", quality=75)
    for k in range(1, 6):  # unrelated pictures, and one exact pair among them
        photo(k).save(root / f"other{k}.jpg", quality=90)
    (root / "copies" / "other5 copy.jpg").write_bytes((root / "other5.jpg").read_bytes())
    return root


def by_name(result) -> dict[str, tuple[int, object]]:
    return {os.path.basename(m.path): (g.id, m) for g in result.groups for m in g.members}


def test_finds_every_kind_of_copy_and_nothing_else(library: Path, tmp_path: Path) -> None:
    result = find_duplicates([str(library)], db_path=str(tmp_path / "i.db"))
    names = by_name(result)
    group_of_original = names["original.jpg"][0]
    for copy in ("exact.jpg", "small.jpg", "padded.png", "cropped.jpg", "rotated.jpg", "mirrored.webp"):
        assert names[copy][0] == group_of_original, copy
    assert names["rotated.jpg"][1].transform in ("rotate90", "rotate270")
    assert names["mirrored.webp"][1].transform == "mirror"
    assert names["small.jpg"][1].transform is None
    assert names["other5.jpg"][0] == names["other5 copy.jpg"][0]
    exact_group = next(g for g in result.groups if g.id == names["other5.jpg"][0])
    assert exact_group.category == "exact" and exact_group.reclaimable_bytes == (library / "other5.jpg").stat().st_size
    for k in range(1, 5):
        assert f"other{k}.jpg" not in names  # unrelated pictures stay out of every group
    assert len(result.groups) == 2
    near_group = next(g for g in result.groups if g.id == group_of_original)
    assert near_group.category == "near"
    assert sum(m.keep for m in near_group.members) == 1


def test_rotations_can_be_turned_off(library: Path, tmp_path: Path) -> None:
    names = by_name(find_duplicates([str(library)], db_path=str(tmp_path / "i.db"), match=MatchOptions(rotations=False)))
    assert "rotated.jpg" not in names and "mirrored.webp" not in names
    assert names["cropped.jpg"][0] == names["original.jpg"][0]


@pytest.mark.slow
def test_keeper_is_the_highest_resolution_then_policies(library: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    best = by_name(find_duplicates([str(library)], db_path=db))
    # The padded copy has more pixels, but they are border; rotated and mirrored
    # copies have as many pixels in smaller files; of the two byte twins, the
    # shorter path wins.
    keeper = [name for name, (_, m) in best.items() if m.keep and best[name][0] == best["original.jpg"][0]]
    assert keeper == ["exact.jpg"] or keeper == ["original.jpg"]
    assert best["original.jpg"][1].keep  # same size and mtime class: "original.jpg" is the shorter path
    smallest = find_duplicates([str(library)], db_path=db, scan=False, match=MatchOptions(keep="smallest"))
    for group in smallest.groups:
        assert group.keeper.size == min(m.size for m in group.members)
    names = by_name(smallest)
    assert names["mirrored.webp"][1].keep  # the smallest file of the near group
    assert names["original.jpg"][1].transform == "mirror"  # transforms are relative to the keeper
    preferred = by_name(find_duplicates([str(library)], db_path=db, scan=False,
                                        match=MatchOptions(keep="prefer-folder", prefer=str(library / "copies"))))
    assert preferred["other5 copy.jpg"][1].keep and not preferred["other5.jpg"][1].keep


@pytest.mark.slow
def test_cli_json_and_csv_validate_and_paths_stay_relative(library: Path, tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "groups.json", tmp_path / "groups.csv"
    done = subprocess.run(
        [sys.executable, "-m", "imgtwin", "find", "library", "--db", str(tmp_path / "i.db"), "--json", str(out_json),
         "--csv", str(out_csv), "--no-progress"],
        cwd=library.parent, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 group(s) (1 exact, 1 near)" in done.stdout
    document = json.loads(out_json.read_text())
    jsonschema.validate(document, SCHEMA)
    paths = [m["path"] for g in document["groups"] for m in g["members"]]
    assert all(p.startswith("library/") for p in paths)
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == paths
    assert {r["keep"] for r in rows} == {"0", "1"}
    # From the index alone, no scan: same groups, absolute paths.
    again = subprocess.run(
        [sys.executable, "-m", "imgtwin", "find", "--db", str(tmp_path / "i.db"), "--json", str(out_json), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert again.returncode == 0, again.stderr
    absolute = json.loads(out_json.read_text())
    assert [len(g["members"]) for g in absolute["groups"]] == [len(g["members"]) for g in document["groups"]]
    assert all(os.path.isabs(m["path"]) for g in absolute["groups"] for m in g["members"])


@pytest.mark.slow
def test_unreadable_files_are_listed_and_exit_1(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    photo(2).save(root / "a.jpg")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    out = tmp_path / "g.json"
    done = subprocess.run(
        [sys.executable, "-m", "imgtwin", "find", str(root), "--db", str(tmp_path / "i.db"), "--json", str(out), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 1
    errors = json.loads(out.read_text())["errors"]
    assert [os.path.basename(e["path"]) for e in errors] == ["broken.png"]
    assert errors[0]["reason"] == "decode_error"


@pytest.mark.slow
def test_find_usage_errors(tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "imgtwin", "find", "--db", str(tmp_path / "none.db")],
                             capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2 and "no index at" in missing.stderr
    prefer = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(tmp_path), "--keep", "prefer-folder"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert prefer.returncode == 2 and "--prefer" in prefer.stderr


@pytest.mark.slow
def test_heic_and_avif_copies_are_found_as_duplicates_of_their_jpeg(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    root = tmp_path / "phone"
    root.mkdir()
    original = photo(3)
    original.save(root / "IMG_0001.jpg", quality=92)
    original.save(root / "IMG_0001.heic", quality=80)
    original.save(root / "IMG_0001.avif", quality=70)
    photo(4).save(root / "IMG_0002.heic", quality=80)  # another picture, same format
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"))
    assert [sorted(os.path.basename(m.path) for m in g.members) for g in result.groups] == [
        ["IMG_0001.avif", "IMG_0001.heic", "IMG_0001.jpg"]
    ]
    formats = {os.path.basename(m.path): m.format for m in result.groups[0].members}
    assert formats["IMG_0001.heic"] == "HEIF" and formats["IMG_0001.avif"] == "AVIF"


@pytest.mark.slow
def test_the_table_escapes_control_characters_in_names(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    photo(3).save(root / "a.jpg")
    hostile = "x\x1b]0;owned\x07\x1b[31m\nGroup 9 · forged.jpg"  # retitles the terminal, recolours, forges a line
    (root / hostile).write_bytes((root / "a.jpg").read_bytes())
    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(root), "--db", str(tmp_path / "i.db"),
                           "--no-progress"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "\\x1b]0;owned\\x07\\x1b[31m\\nGroup 9" in done.stdout
    assert not any(line.startswith("Group 9") for line in done.stdout.splitlines())


@pytest.mark.slow  # ~5 s: a scan with its worker process
def test_groups_carry_what_acting_needs_device_inode_and_content_hash(tmp_path: Path) -> None:
    """The review app and plans read these from the group; none re-opens the index for them."""
    from imgtwin.hashing.content import content_hash

    root = tmp_path / "lib"
    root.mkdir()
    photo(1, 320).save(root / "a.jpg", quality=90)
    (root / "b.jpg").write_bytes((root / "a.jpg").read_bytes())
    photo(1, 320).resize((240, 180)).save(root / "c.jpg", quality=80)
    (group,) = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(),
                               options=ScanOptions(workers=1)).groups
    assert sorted(Path(m.path).name for m in group.members) == ["a.jpg", "b.jpg", "c.jpg"]
    for member in group.members:
        st = os.stat(member.path)
        assert (member.dev, member.inode, member.content_hash) == (st.st_dev, st.st_ino, content_hash(member.path))


THREADS = ScanOptions(executor="thread", workers=2)


class Sink(NullReporter):
    """A metrics sink that keeps what it was told."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.completed: list[ProcessingSummary] = []

    def report_started(self, total_files: int) -> None:
        self.started.append(total_files)

    def report_completed(self, summary: ProcessingSummary) -> None:
        self.completed.append(summary)


def test_the_run_context_carries_the_console_choice_and_the_metrics_sink_down_to_the_scan(
    library: Path, tmp_path: Path
) -> None:
    """find_duplicates takes nothing about output: the RunContext's console, quiet, progress and metrics decide."""
    sink, shown = Sink(), io.StringIO()
    run = RunContext(console=Console(file=shown, width=200, force_terminal=True), quiet=False, progress=True,
                     metrics=sink)
    result = find_duplicates([str(library)], db_path=str(tmp_path / "i.db"), options=THREADS,
                             match=MatchOptions(deep=True), run=run)
    assert result.scan is not None and sink.completed == [result.scan]  # the scan's, not the deep pass's too
    scanned = result.scan.processed_files + result.scan.error_count + result.scan.skipped
    assert sink.started == [scanned] and scanned == len(list(library.rglob("*.*")))
    assert "Local features" in shown.getvalue(), shown.getvalue()  # the deep pass shows itself on the same console

    quiet, silent = Sink(), io.StringIO()
    run = RunContext(console=Console(file=silent), quiet=True, metrics=quiet)
    find_duplicates([str(library)], db_path=str(tmp_path / "i.db"), options=THREADS, run=run)
    assert silent.getvalue() == "" and len(quiet.completed) == 1  # quiet: nothing shown, metrics still counted
