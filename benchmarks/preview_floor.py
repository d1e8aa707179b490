"""The physical floor of "previews first" (issue 23): the least work a previews-first scan must do.

One process per core (a ``multiprocessing.Pool``) doing nothing but, for every file:

* its cheapest faithful view, read once: a JPEG's EXIF IFD1 thumbnail (the bytes
  at offsets 0x0201/0x0202 of IFD1, relative to the TIFF header after the 6-byte
  ``Exif\\0\\0``) decoded to 64 px; a HEIC's first thumbnail item, decoded; a file
  without a preview skips this step;
* for the files that must be decoded from the main image: a JPEG draft decode to
  64 px grey (``draft('L', (64, 64))``), a full decode for HEIC and other formats.

No hashing, no matching, no storage: what is left is the decoders' own cost.
Which files need the main image comes from the index of a previews-first run
(``files.decode`` not starting with ``preview-``; rows answered from a byte
copy, ``answered_by = 'content'``, were not decoded at all), or is every file
(``--all-main``: the floor of a scan that decodes everything).

    python benchmarks/preview_floor.py /tmp/lib-mixed --db default-run.db [--runs 2] [--processes N]
    python benchmarks/preview_floor.py /tmp/lib-mixed --all-main
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import sqlite3
import struct
import sys
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from imgtwin.config import cpu_count

#: ``files.decode`` values that say the hashes came from a preview, not the main image.
PREVIEW_PREFIX = "preview-"

_EXIF_HEADER = b"Exif\x00\x00"
_JPEG_SOI = b"\xff\xd8"
_THUMB_OFFSET, _THUMB_LENGTH = 0x0201, 0x0202


def ifd1_thumbnail(exif: bytes) -> bytes | None:
    """The JPEG thumbnail that IFD1 of an EXIF block points to, or None (no IFD1, no thumbnail, bad offsets)."""
    tiff = exif.removeprefix(_EXIF_HEADER)
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return None
    try:
        (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd0)
        (ifd1,) = struct.unpack_from(order + "I", tiff, ifd0 + 2 + 12 * count)
        if ifd1 == 0:
            return None
        (count,) = struct.unpack_from(order + "H", tiff, ifd1)
        fields = {}
        for k in range(count):
            tag, kind, _ = struct.unpack_from(order + "HHI", tiff, ifd1 + 2 + 12 * k)
            if tag in (_THUMB_OFFSET, _THUMB_LENGTH):  # LONG (4) or SHORT (3), in the value field
                fmt = "I" if kind == 4 else "H"
                (fields[tag],) = struct.unpack_from(order + fmt, tiff, ifd1 + 2 + 12 * k + 8)
    except struct.error:
        return None
    start, length = fields.get(_THUMB_OFFSET), fields.get(_THUMB_LENGTH)
    if start is None or not length or start + length > len(tiff):
        return None
    thumb = tiff[start : start + length]
    return thumb if thumb.startswith(_JPEG_SOI) else None


def _is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1",
                                                 b"msf1", b"avif")  # fmt: skip


def _to_64(image: Image.Image) -> None:
    image.draft("L", (64, 64))
    image.convert("L").thumbnail((64, 64))


def _preview(path: str, heif: bool) -> bool:
    """Decode the file's cheapest view to 64 px; False if it has none."""
    if heif:
        import pillow_heif

        try:
            thumb = pillow_heif.open_heif(path)[0].get_thumbnail(0)  # independent of the global THUMBNAILS option
        except IndexError:
            return False
        _to_64(thumb.to_pillow())
        return True
    with Image.open(path) as image:
        exif = image.info.get("exif") if image.format == "JPEG" else None
        data = ifd1_thumbnail(exif) if isinstance(exif, bytes) else None
    if data is None:
        return False
    _to_64(Image.open(io.BytesIO(data)))
    return True


def _main_image(path: str, heif: bool) -> None:
    """JPEG: draft decode to 64 px grey; HEIC and the rest: a full decode."""
    if heif:
        import pillow_heif

        pillow_heif.open_heif(path)[0].load()
        return
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("L", (64, 64))
        image.load()


def _work(job: tuple[str, bool]) -> str:
    """``preview``, ``none`` (no preview) or ``failed``, with ``+main`` when the main image was decoded too."""
    path, main = job
    try:
        with open(path, "rb") as f:
            heif = _is_heif(f.read(12))
        view = "preview" if _preview(path, heif) else "none"
        if main:
            _main_image(path, heif)
            view += "+main"
        return view
    except Exception:  # noqa: BLE001 - a file the floor cannot read is counted, not fatal
        return "failed"


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's children that have been waited for, grandchildren included.

    The difference around a run is its CPU time: on a shared machine, steadier than its wall time.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class FloorResult:
    """One floor run: wall and CPU seconds (pool start included) and what was decoded."""

    seconds: float
    cpu_s: float
    files: int
    previews: int
    main_decoded: int
    failed: int


def floor(paths: Sequence[str], main: Collection[str], processes: int | None = None) -> FloorResult:
    """Run the floor on ``paths``; the ones in ``main`` are decoded from the main image as well."""
    wanted = set(main)
    jobs = [(p, p in wanted) for p in paths]
    workers = processes or cpu_count()
    chunk = max(1, len(jobs) // (workers * 8))
    started, cpu = time.perf_counter(), children_cpu_s()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        views = Counter(pool.imap_unordered(_work, jobs, chunksize=chunk))
        pool.close()
        pool.join()  # the workers reaped: their CPU time counted
    seconds = time.perf_counter() - started
    previews = views["preview"] + views["preview+main"]
    return FloorResult(
        seconds,
        children_cpu_s() - cpu,
        len(jobs),
        previews,
        views["none+main"] + views["preview+main"],
        views["failed"],
    )


@dataclass(frozen=True)
class IndexViews:
    """What an index says about the view each file's hashes came from."""

    main: tuple[str, ...]  # decoded from the main image (absolute paths)
    previews: int  # answered by a preview
    main_by_format: dict[str, int]  # the main-image decodes per format (JPEG, HEIF, ...)
    copies: int  # answered from a byte copy, nothing decoded
    errors: int


def index_views(db: str | Path) -> IndexViews:
    """Read ``files.decode`` of every present row of an imgtwin index."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT path, format, decode, answered_by, error_reason FROM files "
                            "WHERE vanished_at IS NULL").fetchall()  # fmt: skip
    main, by_format = [], Counter[str]()
    previews = copies = errors = 0
    for path, fmt, decode, answered_by, error in rows:
        if error is not None or decode is None:
            errors += 1
        elif answered_by == "content":
            copies += 1
        elif decode.startswith(PREVIEW_PREFIX):
            previews += 1
        else:
            main.append(os.fsdecode(path))
            by_format[fmt or "?"] += 1
    return IndexViews(tuple(sorted(main)), previews, dict(by_format), copies, errors)


def library_files(root: Path) -> list[str]:
    """The library's files, from its truth.json (absolute paths)."""
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return [str(root / rel) for rel in sorted(truth)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library", type=Path, help="a folder made by ../shared/corpus/make_library.py")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--db", type=Path, help="the index of a previews-first find on this library")
    which.add_argument("--all-main", action="store_true", help="decode every file's main image too")
    parser.add_argument("--runs", type=int, default=2, help="best of N (default 2)")
    parser.add_argument("--processes", type=int, default=0, help="0 = one per core")
    args = parser.parse_args()
    if not (args.library / "truth.json").is_file():
        sys.exit(f"preview_floor: {args.library}/truth.json not found (not a library from make_library.py)")
    if args.db is not None and not args.db.is_file():
        sys.exit(f"preview_floor: no index {args.db}")
    files = library_files(args.library.resolve())
    main_files = files if args.all_main else index_views(args.db).main
    best = min((floor(files, main_files, args.processes or None) for _ in range(max(1, args.runs))),
               key=lambda r: r.seconds)  # fmt: skip
    print(
        f"floor: {best.seconds:.2f} s ({best.cpu_s:.1f} CPU s) for {best.files} files ({best.previews} previews decoded, "
        f"{best.main_decoded} main images decoded, {best.failed} failed), best of {args.runs}"
    )


if __name__ == "__main__":
    main()
