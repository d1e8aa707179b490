"""The upscale check (``matching.resolution``) on real little JPEGs: its verdicts, and the widths it is given."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imgtwin.matching.resolution import MAX_RATIO, STRIP, UpscaleCheck, UpscaleTask, _reduction, top_rows
from tests.helpers import shared_photo


def resized(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS)


def turned_jpeg(path: Path, image: Image.Image) -> Path:
    """``image`` stored on its side with an EXIF orientation (6) that shows it upright, as cameras write it."""
    exif = Image.Exif()
    exif[0x0112] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(path, quality=92, exif=exif)
    return path


def test_an_upscale_and_a_downscale_are_told_apart(tmp_path: Path) -> None:
    image = shared_photo(2, 900)
    image.save(tmp_path / "original.jpg", quality=92)
    resized(image, 1.6).save(tmp_path / "upscaled.jpg", quality=92)
    resized(image, 0.5).save(tmp_path / "downscaled.jpg", quality=92)
    task = UpscaleTask()
    up = task.run(UpscaleCheck(str(tmp_path / "upscaled.jpg"), "U", ((str(tmp_path / "original.jpg"), "O"),)))
    down = task.run(UpscaleCheck(str(tmp_path / "original.jpg"), "O", ((str(tmp_path / "downscaled.jpg"), "D"),)))
    assert up[0].ratio is not None and up[0].ratio <= MAX_RATIO and up[0].upscaled
    assert down[0].ratio is not None and down[0].ratio > MAX_RATIO and not down[0].upscaled


def test_the_first_smaller_file_explaining_an_upscale_settles_it(tmp_path: Path) -> None:
    """Smaller files come largest first: once the large file is an upscale of one, the smaller ones change nothing."""
    image = shared_photo(2, 700)
    image.save(tmp_path / "original.jpg", quality=92)
    resized(image, 1.6).save(tmp_path / "upscaled.jpg", quality=92)
    resized(image, 0.6).save(tmp_path / "smaller.jpg", quality=92)
    smaller = ((str(tmp_path / "original.jpg"), "O"), (str(tmp_path / "smaller.jpg"), "S"))
    verdicts = UpscaleTask().run(UpscaleCheck(str(tmp_path / "upscaled.jpg"), "U", smaller))
    assert [(v.small_hash, v.upscaled) for v in verdicts] == [("O", True)]
    resized(image, 0.8).save(tmp_path / "downscaled.jpg", quality=92)
    smaller = ((str(tmp_path / "downscaled.jpg"), "D"), (str(tmp_path / "smaller.jpg"), "S"))
    verdicts = UpscaleTask().run(UpscaleCheck(str(tmp_path / "original.jpg"), "O", smaller))
    assert [(v.small_hash, v.upscaled) for v in verdicts] == [("D", False), ("S", False)]  # no upscale: each one


def test_the_index_widths_give_the_verdicts_the_headers_give(tmp_path: Path) -> None:
    """Widths as shown (the index's): a camera file stored on its side is reduced as its header says it shows."""
    image = shared_photo(3, 1400)
    large = turned_jpeg(tmp_path / "camera.jpg", image)
    small = tmp_path / "small.jpg"
    resized(image, 0.3).save(small, quality=90)
    read = UpscaleCheck(str(large), "L", ((str(small), "S"),))
    told = replace(read, widths=(image.width, round(image.width * 0.3)))
    assert _reduction(told) == _reduction(read) == 2  # 1400 / 2 >= 1.5 * 420, not / 4
    assert UpscaleTask().run(told) == UpscaleTask().run(read)
    assert not UpscaleTask().run(told)[0].upscaled


def test_widths_missing_for_a_file_are_read_from_the_headers(tmp_path: Path) -> None:
    image = shared_photo(4, 1200)
    image.save(tmp_path / "large.jpg", quality=92)
    resized(image, 0.15).save(tmp_path / "small.jpg", quality=92)
    check = UpscaleCheck(str(tmp_path / "large.jpg"), "L", ((str(tmp_path / "small.jpg"), "S"),),
                         widths=(image.width,))  # the small file's is not known
    assert _reduction(check) == 4  # width / 4 >= 1.5 * width * 0.15, not / 8


def test_a_png_is_decoded_once_per_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PNG has no partial decode: its strip comes from one whole decode (its EXIF, read before its pixels by a
    probe, would have decoded it a first time), and an upscale of a PNG is still told from its original."""
    image = shared_photo(5, 700)
    image.save(tmp_path / "original.png")
    resized(image, 1.6).save(tmp_path / "upscaled.png")
    decodes: list[str] = []
    real = Image._getdecoder

    def counted(mode: str, decoder_name: str, args: Any, extra: tuple[Any, ...] = ()) -> Any:
        decodes.append(decoder_name)
        return real(mode, decoder_name, args, extra)

    monkeypatch.setattr(Image, "_getdecoder", counted)
    strip, height = top_rows(str(tmp_path / "original.png"), STRIP)
    assert decodes == ["zip"]
    assert height == image.height and strip.size == (image.width, round(image.height * STRIP))
    assert np.array_equal(np.asarray(strip), np.asarray(image.convert("L"))[: strip.size[1]])
    decodes.clear()
    widths = (round(image.width * 1.6), image.width)  # the index's, as find gives them
    verdicts = UpscaleTask().run(UpscaleCheck(str(tmp_path / "upscaled.png"), "U",
                                              ((str(tmp_path / "original.png"), "O"),), widths))
    assert decodes.count("zip") == 2 and verdicts[0].upscaled  # each file decoded once (the others: arrays)
