"""A small file is read once, its bytes both decoded and hashed (``pillow_loader.WHOLE_READ_BYTES``): the same results.

Real files written here: tiny JPEG tiles, a camera JPEG answered by its EXIF thumbnail, a sideways PNG, a GIF,
a broken, an empty and a text file named like a picture, and one over ``WHOLE_READ_BYTES``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from imgtwin.hashing.content import content_hash, content_hash_of
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.interfaces import LoadedImage
from imgtwin.loading import pillow_loader, preview_loader
from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import WHOLE_READ_BYTES, StandardImageLoader
from imgtwin.loading.preview_loader import PreviewFirstLoader
from imgtwin.processing.task import process_files
from imgtwin.records import FileStatus, from_preview
from tests.helpers import camera_jpeg, synthetic_photo


def _files(folder: Path) -> list[str]:
    folder.mkdir()
    for k in range(6):
        synthetic_photo(k, (96, 72)).save(folder / f"t{k}.jpg", quality=85)
    camera_jpeg(folder / "IMG_0001.JPG", synthetic_photo(7, (1200, 900)))  # over WHOLE_READ_BYTES: its head read
    camera_jpeg(folder / "IMG_0002.JPG", synthetic_photo(11, (480, 360)))  # under: read whole, still its preview
    sideways = Image.Exif()
    sideways[0x0112] = 6
    synthetic_photo(8, (120, 80)).save(folder / "side.png", exif=sideways)
    synthetic_photo(9, (64, 48)).convert("P").save(folder / "small.gif")
    whole = (folder / "t1.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a picture\n")
    (folder / "notes.jpg").write_text("not a picture\n")
    synthetic_photo(10, (400, 300)).save(folder / "large.png")  # raw pixels: over WHOLE_READ_BYTES
    assert os.path.getsize(folder / "large.png") > WHOLE_READ_BYTES
    return sorted(str(path) for path in folder.iterdir())


def test_a_scan_of_bytes_read_once_gives_the_results_of_a_decode_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = _files(tmp_path / "files")
    loader = PreviewFirstLoader(StandardImageLoader())
    hasher, extractor = DCTHasher(8), MatchFeatureExtractor()
    once = process_files(paths, loader, hasher, extractor)
    for module in (pillow_loader, preview_loader):
        monkeypatch.setattr(module, "WHOLE_READ_BYTES", -1)  # every file decoded from the file, hashed apart
    apart = process_files(paths, loader, hasher, extractor)
    assert [replace(r, duration_s=None) for r in once] == [replace(r, duration_s=None) for r in apart]
    by_name = {os.path.basename(r.path): r for r in once}
    for name in ("IMG_0001.JPG", "IMG_0002.JPG"):
        assert from_preview(by_name[name].metadata.decode)
        assert by_name[name].metadata.content_hash is None  # answered by its preview: not hashed
    assert by_name["t0.jpg"].metadata.content_hash == content_hash(str(tmp_path / "files" / "t0.jpg"))
    assert by_name["large.png"].metadata.content_hash == content_hash(str(tmp_path / "files" / "large.png"))
    assert by_name["side.png"].status is FileStatus.HASHED and by_name["side.png"].metadata.width == 80
    assert by_name["broken.jpg"].status is FileStatus.ERROR and by_name["empty.jpg"].status is FileStatus.ERROR
    assert by_name["notes.txt"].status is FileStatus.SKIPPED


def test_a_small_file_s_load_carries_its_content_hash_and_a_large_one_s_not(tmp_path: Path) -> None:
    paths = {os.path.basename(p): p for p in _files(tmp_path / "files")}
    for loader in (StandardImageLoader(), PreviewFirstLoader(StandardImageLoader())):
        assert loader.load(paths["t2.jpg"]).content_hash == content_hash(paths["t2.jpg"])
        assert loader.load(paths["large.png"]).content_hash is None  # the task hashes it apart
    previews = PreviewFirstLoader(StandardImageLoader())
    assert previews.load(paths["IMG_0002.JPG"]).content_hash is None
    assert previews.load(paths["IMG_0002.JPG"]).bytes_read is None  # read whole: the file's size
    assert 0 < (previews.load(paths["IMG_0001.JPG"]).bytes_read or 0) < os.path.getsize(paths["IMG_0001.JPG"])


@pytest.mark.parametrize("loader", [StandardImageLoader(), PreviewFirstLoader(StandardImageLoader())])
def test_load_bytes_is_load_of_the_file_errors_included(
    tmp_path: Path, loader: StandardImageLoader | PreviewFirstLoader,
) -> None:
    for path in _files(tmp_path / "files"):
        data = Path(path).read_bytes()
        try:
            expected: LoadedImage | str = loader.load(path)
        except LoadError as exc:
            expected = f"{exc.reason} {exc}"
        try:
            got: LoadedImage | str = loader.load_bytes(data, path)
        except LoadError as exc:
            got = f"{exc.reason} {exc}"
        if isinstance(expected, str) or isinstance(got, str):
            assert got == expected, path
        else:
            assert (got.image.tobytes(), got.colour and got.colour.tobytes()) == (
                expected.image.tobytes(), expected.colour and expected.colour.tobytes()), path
            # All of a file's bytes were read: a preview says so (None: the file's size), not its head alone.
            assert got.bytes_read is None
            assert replace(got, image=None, colour=None, content_hash=None) == replace(
                expected, image=None, colour=None, bytes_read=None, content_hash=None), path
            assert got.content_hash in (None, content_hash(path))


def test_the_content_hash_of_bytes_is_that_of_the_file_read_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 12345)  # over three of content_hash's 1 MiB chunks
    path.write_bytes(data)
    assert content_hash_of(data) == content_hash(str(path))
    (tmp_path / "empty").write_bytes(b"")
    assert content_hash_of(b"") == content_hash(str(tmp_path / "empty"))


def test_a_loader_that_refines_load_sees_every_small_file_the_preview_does_not_answer(tmp_path: Path) -> None:
    """Reading a small file whole must not route its main decode around ``main.load`` (a test's gate,
    a plugin's checks): the scan's default loader wraps the main one."""
    seen: list[str] = []

    class Watching(StandardImageLoader):
        def load(self, path: str) -> LoadedImage:
            seen.append(os.path.basename(path))
            return super().load(path)

    paths = _files(tmp_path / "files")
    loader = PreviewFirstLoader(Watching())
    small = [p for p in paths if os.path.getsize(p) <= WHOLE_READ_BYTES]
    answered = 0
    for path in small:
        try:
            answered += from_preview(loader.load(path).decode)
        except LoadError:
            pass
    assert small and len(seen) == len(small) - answered, (seen, answered)


_OPENED: list[str] = []  # the watched paths, as each open of one is announced
_WATCHED: set[str] = set()


def _count_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str) and args[0] in _WATCHED:
        _OPENED.append(args[0])


sys.addaudithook(_count_opens)  # Python's own audit events: every open of a file by path


def test_the_scan_s_loader_opens_a_small_file_once(tmp_path: Path) -> None:
    """The preview-first loader reads a small file whole for its preview look; where no preview answers, its
    main decode takes those bytes (a plain ``StandardImageLoader`` as main), not a second open and read."""
    paths = _files(tmp_path / "files")
    small = [p for p in paths if os.path.getsize(p) <= WHOLE_READ_BYTES and p.endswith(("t0.jpg", "small.gif",
                                                                                           "side.png", "broken.jpg"))]
    _WATCHED.update(small)
    try:
        loader = PreviewFirstLoader(StandardImageLoader())
        for path in small:
            try:
                loader.load(path)
            except LoadError:
                pass
    finally:
        _WATCHED.clear()
    assert sorted(_OPENED) == sorted(small)
