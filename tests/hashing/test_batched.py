"""The features of a chunk of files computed together are those of each file alone, and one bad file is its own.

Real small files, written and decoded here: JPEG tiles of two sizes, a PNG, a grey JPEG, a palette
GIF, an EXIF-rotated JPEG, a picture with a border (the trimmed path) and a flat one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgtwin.hashing.batched import compute_features_many, lab_thumbs, trim_boxes
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.hashing.features import COLOUR_THUMB, MatchFeatures, srgb_to_lab, trim_box
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.task import ScanTask, process_file, process_files
from imgtwin.records import ErrorReason, FileResult, FileStatus
from tests.helpers import synthetic_photo


def _small_files(folder: Path) -> list[Path]:
    """A chunk's worth of small files of every kind the batch must keep apart."""
    made: list[Path] = []

    def save(name: str, image: Image.Image, **options: Any) -> None:
        made.append(folder / name)
        image.save(made[-1], **options)

    for k in range(6):
        save(f"tile{k}.jpg", synthetic_photo(k, (96, 72)), quality=85)
    save("wide.jpg", synthetic_photo(6, (120, 64)), quality=80)
    save("tile.png", synthetic_photo(7, (96, 72)))
    save("grey.jpg", synthetic_photo(8, (96, 72)).convert("L"), quality=90)
    save("palette.gif", synthetic_photo(9, (96, 72)).convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    rotated = synthetic_photo(10, (96, 72))
    exif = rotated.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    save("rotated.jpg", rotated, quality=85, exif=exif)
    save("framed.jpg", ImageOps.pad(synthetic_photo(11, (96, 60)), (96, 96), color=(0, 0, 0)), quality=92)
    save("flat.png", Image.new("RGB", (96, 72), (200, 120, 40)))
    save("big.jpg", synthetic_photo(12, (640, 480)), quality=85)
    return made


@pytest.fixture
def small_files(tmp_path: Path) -> list[Path]:
    return _small_files(tmp_path)


def test_features_of_a_chunk_are_each_files_own(small_files: list[Path]) -> None:
    loader, hasher = StandardImageLoader(), DCTHasher()
    loaded = [loader.load(str(path)) for path in small_files]
    together = compute_features_many([one.image for one in loaded], hasher, [one.colour for one in loaded])
    alone = [compute_features_many([one.image], hasher, [one.colour])[0] for one in loaded]
    backwards = compute_features_many([one.image for one in loaded[::-1]], hasher, [one.colour for one in loaded[::-1]])
    assert [f.to_bytes() for f in together] == [f.to_bytes() for f in alone] == [f.to_bytes() for f in backwards[::-1]]
    for one, features in zip(loaded, together, strict=True):
        assert features.hash == hasher.hash(one.image).value  # the scan's own hash, from the same pass
        assert MatchFeatures.from_bytes(features.to_bytes()).to_bytes() == features.to_bytes()
    by_name = dict(zip((p.name for p in small_files), together, strict=True))
    assert by_name["framed.jpg"].trimmed and not by_name["tile0.jpg"].trimmed
    assert by_name["grey.jpg"].colour is None and by_name["tile.png"].colour is not None
    assert by_name["palette.gif"].colour is not None
    assert by_name["flat.png"].low_detail and not by_name["tile1.jpg"].low_detail
    assert len({f.hash for name, f in by_name.items() if name.startswith("tile")}) == 7  # no picture took another's


def test_border_boxes_of_a_stack_are_trim_box(small_files: list[Path]) -> None:
    loader = StandardImageLoader()
    pixels = [np.asarray(loader.load(str(path)).image) for path in small_files]
    # Borders on one side, on two, of other colours, and a line of noise inside a border.
    plain = np.asarray(synthetic_photo(20, (96, 72)).convert("L"))
    top = plain.copy()
    top[:9] = 17
    sides = plain.copy()
    sides[:, :7] = 250
    sides[:, -12:] = 250
    speckled = top.copy()
    speckled[4, 50] = 200
    pixels += [top, sides, speckled, np.full((72, 96), 128, np.uint8), np.zeros((4, 4), np.uint8)]
    assert trim_boxes(pixels) == [trim_box(p) for p in pixels]
    assert trim_boxes([top])[0][1] > 9 and trim_boxes([sides])[0][0] > 7


def test_a_chunk_gives_what_its_files_give_one_by_one(small_files: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(small_files[0].read_bytes()[:300])
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    paths = [str(p) for p in small_files[:5]] + [str(broken), str(tmp_path / "gone.jpg")] + \
        [str(p) for p in small_files[5:]] + [str(notes)]
    loader, hasher, extractor = StandardImageLoader(), DCTHasher(), MatchFeatureExtractor()
    begun: list[int] = []
    together = process_files(paths, loader, hasher, extractor, begin=lambda: begun.append(1))
    alone = [process_file(path, loader, hasher, extractor) for path in paths]
    assert len(begun) == len(paths)
    assert [r.path for r in together] == paths

    def stored(r: FileResult) -> tuple[object, ...]:
        return (r.status, r.hash, r.features, r.features_spec, r.signals, r.signals_spec, r.error, r.metadata.width,
                r.metadata.height, r.metadata.content_hash)

    assert [stored(r) for r in together] == [stored(r) for r in alone]
    reasons = {r.path: r.error.reason for r in together if r.error is not None}
    assert reasons == {str(broken): reasons[str(broken)], str(tmp_path / "gone.jpg"): ErrorReason.VANISHED,
                       str(notes): ErrorReason.NOT_AN_IMAGE}
    assert reasons[str(broken)] in (ErrorReason.TRUNCATED, ErrorReason.DECODE_ERROR)
    assert sum(r.status is FileStatus.HASHED for r in together) == len(small_files)
    assert all((r.duration_s or 0) > 0 for r in together)


def test_a_picture_whose_features_fail_is_its_own_error(small_files: list[Path]) -> None:
    """A hasher that fails on one picture: the chunk is done again one by one, that picture alone fails."""

    class Picky(DCTHasher):
        def prepare_many(self, images: Sequence[Image.Image], pixels: Sequence[np.ndarray] | None = None
                         ) -> np.ndarray:  # the features' thumbnails
            if any(image.size == (120, 64) for image in images):
                raise ValueError("no wide pictures")
            return super().prepare_many(images, pixels)

    paths = [str(p) for p in small_files]
    results = ScanTask(StandardImageLoader(), Picky(), MatchFeatureExtractor()).run_many(paths, lambda: None)
    failed = [r for r in results if r.status is FileStatus.ERROR]
    assert [r.path for r in failed] == [str(small_files[6])]
    assert failed[0].error is not None and failed[0].error.reason is ErrorReason.DECODE_ERROR
    assert "no wide pictures" in failed[0].error.message
    assert sum(r.status is FileStatus.HASHED for r in results) == len(paths) - 1


def test_colour_thumbnails_of_a_stack_are_each_pictures_own(small_files: list[Path]) -> None:
    # The CIELAB conversion runs once for the whole stack; each picture's a*, b* bytes must be those of
    # the conversion of that picture alone (as the index stored them before), bit for bit.
    loader = StandardImageLoader()
    colours = [loader.load(str(path)).colour for path in small_files]
    colours += [synthetic_photo(20 + k, (96, 72)).convert("HSV").convert("RGB") for k in range(24)]  # other hues
    colours += [Image.new("RGB", (96, 72), (k * 10, 255 - k * 10, 128)) for k in range(26)]
    alone: list[bytes | None] = []
    for colour in colours:
        if colour is None:
            alone.append(None)
            continue
        small = np.asarray(colour.convert("RGB").resize((COLOUR_THUMB, COLOUR_THUMB), Image.Resampling.BOX),
                           dtype=np.float32)
        lab = srgb_to_lab(small / 255.0)
        alone.append(np.ascontiguousarray(np.moveaxis(np.clip(np.rint(lab[..., 1:]), -127, 127).astype(np.int8),
                                                      -1, 0)).tobytes())
    assert lab_thumbs(colours) == alone
    assert None in alone and len({one for one in alone if one is not None}) > 40
