"""The pure parts of issue 23's benchmark (benchmarks/library_previews.py, benchmarks/preview_floor.py).

Real files, a real index and the real scorer; the full benchmark runs for minutes and is not run here.
"""

from __future__ import annotations

import io
import json
import sqlite3
import sys
import time
from pathlib import Path

import piexif
import pillow_heif
from PIL import Image

from benchmarks.library_previews import (
    Accuracy,
    Outcome,
    Row,
    foreign_preview_groups,
    groups_of,
    render_table,
    score,
    timed_command,
)
from benchmarks.preview_floor import floor, ifd1_thumbnail, index_views
from imgtwin.persistence.sqlite import connect
from tests.helpers import require_shared, synthetic_photo


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((40, 30))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def camera_jpeg(path: Path, seed: int) -> None:
    """A JPEG with camera EXIF and a 40x30 IFD1 thumbnail, as piexif writes it."""
    image = synthetic_photo(seed, (160, 120))
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Canon"}, "1st": {piexif.ImageIFD.Compression: 6},
                        "thumbnail": _thumbnail(image)})  # fmt: skip
    image.save(path, "JPEG", quality=90, exif=exif)


def test_ifd1_thumbnail_is_the_thumbnail_the_camera_wrote(tmp_path: Path) -> None:
    for seed in range(3):
        camera_jpeg(tmp_path / f"{seed}.jpg", seed)
        with Image.open(tmp_path / f"{seed}.jpg") as image:
            thumb = ifd1_thumbnail(image.info["exif"])
            assert thumb is not None and thumb == piexif.load(image.info["exif"])["thumbnail"]
        assert Image.open(io.BytesIO(thumb)).size == (40, 30)
    exif_without_ifd1 = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Canon"}})
    assert ifd1_thumbnail(exif_without_ifd1) is None
    with Image.open(tmp_path / "0.jpg") as image:
        whole = image.info["exif"]
    assert ifd1_thumbnail(whole[: len(whole) // 2]) is None  # offsets past the end: no thumbnail, no error
    assert ifd1_thumbnail(b"Exif\x00\x00II*\x00\xff\xff\xff\x7f") is None
    assert ifd1_thumbnail(b"") is None


def test_floor_decodes_every_preview_and_only_the_listed_main_images(tmp_path: Path) -> None:
    jpegs = [tmp_path / f"{k}.jpg" for k in range(3)]
    for k, path in enumerate(jpegs):
        camera_jpeg(path, k)
    bare = tmp_path / "shared.jpg"  # no EXIF: no preview
    synthetic_photo(7, (160, 120)).save(bare, "JPEG")
    heic = tmp_path / "phone.heic"
    pillow_heif.from_pillow(synthetic_photo(8, (96, 64))).save(heic, quality=60, thumbnails=[32])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    paths = [str(p) for p in (*jpegs, bare, heic, broken)]

    result = floor(paths, main=[str(jpegs[0]), str(bare), str(heic)], processes=2)

    assert (result.files, result.previews, result.main_decoded, result.failed) == (6, 4, 3, 1)
    assert result.seconds > 0 and result.cpu_s > 0  # the workers' CPU, counted once they are reaped
    everything = floor(paths[:-1], main=paths[:-1], processes=2)
    assert (everything.previews, everything.main_decoded, everything.failed) == (4, 5, 0)


def test_index_views_reads_which_view_answered_each_file(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    connect(str(db)).close()  # the real schema
    rows = [  # path, format, decode, answered_by, error_reason, vanished_at
        ("/lib/a.jpg", "JPEG", "preview-exif-160x120", None, None, None),
        ("/lib/b.heic", "HEIF", "preview-heif-320x240", None, None, None),
        ("/lib/c.jpg", "JPEG", "jpeg-draft-1/8", None, None, None),
        ("/lib/d.heic", "HEIF", "full", None, None, None),
        ("/lib/copy of c.jpg", "JPEG", "jpeg-draft-1/8", "content", None, None),
        ("/lib/bad.jpg", None, None, None, "decode_failed", None),
        ("/lib/gone.jpg", "JPEG", "full", None, None, 5.0),
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO files (path, size, mtime_ns, format, decode, answered_by, error_reason, vanished_at, "
            "scanned_at) VALUES (?, 1, 1, ?, ?, ?, ?, ?, 1.0)",
            [(p.encode(), *rest) for p, *rest in rows],
        )

    views = index_views(db)

    assert views.main == ("/lib/c.jpg", "/lib/d.heic")
    assert (views.previews, views.copies, views.errors) == (2, 1, 1)
    assert views.main_by_format == {"JPEG": 1, "HEIF": 1}


TRUTH = {
    "DCIM/a.jpg": {"group": "g1", "kind": "original", "transform": "original", "category": "exact"},
    "Shared/b.jpg": {"group": "g1", "kind": "variant", "transform": "share_2048", "category": "near"},
    "DCIM/c.jpg": {"group": "g2", "kind": "original", "transform": "original", "category": "exact"},
    "Edited/c_edit.jpg": {"group": "g2", "kind": "variant", "transform": "edit_keep_exif", "category": "near"},
    "DCIM/liar.jpg": {
        "group": "g3",
        "kind": "original",
        "transform": "original_foreign_thumbnail",
        "category": "exact",
    },
    "Backup/liar.jpg": {"group": "g3", "kind": "variant", "transform": "exact_copy", "category": "exact"},
}


def test_groups_of_both_documents_and_their_score(tmp_path: Path) -> None:
    require_shared("corpus/score.py")
    root = tmp_path / "lib"
    root.mkdir()
    (root / "truth.json").write_text(json.dumps(TRUTH))
    imgtwin_doc = {"tool": "imgtwin", "base": "/elsewhere", "groups": [
        {"members": [{"path": str(root / "DCIM/a.jpg")}, {"path": str(root / "Shared/b.jpg")}]},
        {"members": [{"path": str(root / "DCIM/c.jpg")}, {"path": str(root / "DCIM/liar.jpg")}]},
    ]}  # fmt: skip
    relative_doc = {
        "base": str(root / "DCIM"),
        "groups": [{"members": [{"path": "a.jpg"}, {"path": "../Shared/b.jpg"}]}],
    }
    peer_doc = {"tool": "czkawka", "groups": [["DCIM/c.jpg", "Edited/c_edit.jpg"]]}

    groups = groups_of(imgtwin_doc, root)
    assert groups == [["DCIM/a.jpg", "Shared/b.jpg"], ["DCIM/c.jpg", "DCIM/liar.jpg"]]
    assert groups_of(relative_doc, root) == [["DCIM/a.jpg", "Shared/b.jpg"]]
    assert groups_of(peer_doc, root) == [["DCIM/c.jpg", "Edited/c_edit.jpg"]]

    assert score(root, groups, tmp_path, "imgtwin") == Accuracy(precision=0.5, near_recall=0.5, foreign_groups=1)
    assert score(root, groups_of(peer_doc, root), tmp_path, "peer") == Accuracy(1.0, 0.5, 0)
    # the liar with its own copies is no wrong group; two liars' groups are two
    assert foreign_preview_groups([["DCIM/liar.jpg", "Backup/liar.jpg"], ["DCIM/a.jpg", "Shared/b.jpg"]], TRUTH) == 0
    assert foreign_preview_groups([["DCIM/liar.jpg", "DCIM/a.jpg"], ["DCIM/c.jpg", "DCIM/liar.jpg"]], TRUTH) == 2


def test_timed_command_reports_a_failed_run_instead_of_raising(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    failed = timed_command([sys.executable, "-c", "import sys; sys.exit('Error: No such option --no-previews')"], out)
    assert failed.failure == "exit 1: Error: No such option --no-previews"
    assert failed.document is None

    # a tool whose worker (a child) burns 0.3 s of CPU, then writes its groups
    spin = "import time; t = time.process_time()\\nwhile time.process_time() - t < 0.3: pass"
    write = (
        f"import json, subprocess, sys; subprocess.run([sys.executable, '-c', '{spin}']); "
        f"json.dump({{'groups': [['a', 'b']]}}, open({str(out)!r}, 'w'))"
    )
    done = timed_command([sys.executable, "-c", write], out)
    assert done.failure is None and done.document == {"groups": [["a", "b"]]}
    assert done.peak_rss_mb is not None and done.wall_s > 0
    assert done.cpu_s is not None and 0.3 <= done.cpu_s < done.wall_s + 2
    # a worker that finished but was never waited for (RUSAGE_CHILDREN never sees it): the sampler does
    # (it lingers after its work, so the sampler's last look sees all of it however loaded the machine is)
    unreaped = write.replace("subprocess.run(", "subprocess.Popen(").replace("]); ", "]); time.sleep(1.5); ")
    unreaped = unreaped.replace("pass'", "pass\\ntime.sleep(0.5)'")
    done = timed_command([sys.executable, "-c", "import time; " + unreaped], out)
    assert done.cpu_s is not None and done.cpu_s >= 0.3

    # a hung tool is stopped with its children (a peer's pool)
    child_pid = tmp_path / "child.pid"
    hang = (
        "import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(child_pid)!r}, 'w').write(str(c.pid)); time.sleep(60)"
    )
    hung = timed_command([sys.executable, "-c", hang], out, timeout_s=3.0)
    assert hung.failure == "timed out after 3 s" and hung.wall_s < 10
    child = int(child_pid.read_text())
    deadline = time.monotonic() + 5.0  # a killed process takes a moment to die on a loaded machine
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def test_render_table_ratios_to_the_floor_and_the_fastest_peer() -> None:
    rows = [
        Row("floor", "floor", Outcome(2.0, 3.9)),
        Row("imgtwin find (previews)", "imgtwin", Outcome(6.0, 11.04, 512.4), Accuracy(0.99876, 0.95, 0)),
        Row("imgtwin find --no-previews", "imgtwin", Outcome(0.5, failure="exit 2: No such option | sorry")),
        Row("peer czkawka", "peer", Outcome(3.0, 5.0, 145.0), Accuracy(1.0, 0.5, 2)),
        Row("peer imagehash_pool", "peer", Outcome(4.0, 7.5, 259.0), Accuracy(None, None, 0)),
        Row("peer broken", "peer", Outcome(1.0, failure="exit 3: missing")),
    ]

    lines = render_table(rows).splitlines()

    assert lines[0].startswith("| run | wall s | x floor | x fastest peer | precision | near recall |")
    assert lines[2] == "| floor | 2.00 | 1.00 | 0.67 | - | - | - | - | 3.9 |"
    assert lines[3] == "| imgtwin find (previews) | 6.00 | 3.00 | 2.00 | 0.9988 | 0.950 | 0 | 512 | 11.0 |"
    assert (
        lines[4]
        == "| imgtwin find --no-previews | failed (exit 2: No such option / sorry) | - | - | - | - | - | - | - |"
    )
    assert lines[5] == "| peer czkawka | 3.00 | 1.50 | 1.00 | 1.0000 | 0.500 | 2 | 145 | 5.0 |"
    assert lines[6] == "| peer imagehash_pool | 4.00 | 2.00 | 1.33 | - | - | 0 | 259 | 7.5 |"


def test_render_table_without_floor_or_peers() -> None:
    rows = [Row("imgtwin find (previews)", "imgtwin", Outcome(6.0), Accuracy(1.0, 1.0, 0))]
    assert (
        render_table(rows).splitlines()[2] == "| imgtwin find (previews) | 6.00 | - | - | 1.0000 | 1.000 | 0 | - | - |"
    )
