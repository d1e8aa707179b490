"""The keeper is the original: each signal on small real images, end to end through ``find_duplicates``.

Every derived copy is made *older* than its original (its mtime set a day back),
so that the age tier, the weakest, would pick the copy: the signal under test must
be what decides.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageOps

from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo

SCAN = ScanOptions(executor="thread", workers=2)
DAY_NS = 86_400 * 10**9


def photo(index: int, size: int = 720) -> Image.Image:
    return shared_photo(index, size)


def save(image: Image.Image, path: Path, fmt: str = "JPEG", **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **options)
    return path


def older(path: Path) -> None:
    """Make ``path`` a day older than anything else here."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns - DAY_NS, st.st_mtime_ns - DAY_NS))


def keeper_of(root: Path, tmp_path: Path, **options: object) -> tuple[str, object]:
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), options=SCAN, match=MatchOptions(**options))  # type: ignore[arg-type]
    assert len(result.groups) == 1, [[m.path for m in g.members] for g in result.groups]
    group = result.groups[0]
    return os.path.basename(group.keeper.path), group


def original_and(tmp_path: Path, index: int = 0) -> tuple[Path, Image.Image]:
    root = tmp_path / "photos"
    image = photo(index)
    save(image, root / "original.jpg", quality=90)
    return root, image


def derived(root: Path, name: str, image: Image.Image, fmt: str = "JPEG", **options: object) -> None:
    older(save(image, root / "copies" / name, fmt, **options))


def test_an_upscale_never_wins_over_its_source(tmp_path: Path) -> None:
    root, image = original_and(tmp_path)
    big = image.resize((int(image.width * 1.6), int(image.height * 1.6)), Image.Resampling.LANCZOS)
    derived(root, "upscaled.jpg", big, quality=92)  # more pixels, a larger file, no more detail
    keeper, group = keeper_of(root, tmp_path)
    assert keeper == "original.jpg"
    assert group.keeper_confidence == "high"


def test_a_real_higher_resolution_original_beats_its_downscale(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    image = photo(1, 1400)
    save(image, root / "original.jpg", quality=90)
    derived(root, "small.jpg", image.resize((700, round(700 * image.height / image.width))), quality=90)
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


@pytest.mark.parametrize("fmt,mode", [("GIF", "P"), ("PNG", "P")])
def test_a_palette_copy_loses_to_the_full_colour_photo(tmp_path: Path, fmt: str, mode: str) -> None:
    root, image = original_and(tmp_path, 2)
    palette = image.convert(mode, palette=Image.Palette.ADAPTIVE, colors=256)
    derived(root, f"palette.{fmt.lower()}", palette, fmt)  # lossless format, larger file, 256 colours
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


@pytest.mark.parametrize("mode", ["L", "1"])
def test_a_grey_or_1_bit_copy_loses_even_with_more_pixels(tmp_path: Path, mode: str) -> None:
    root, image = original_and(tmp_path, 3)
    bigger = image.resize((int(image.width * 1.3), int(image.height * 1.3)), Image.Resampling.LANCZOS)
    derived(root, f"grey-{mode}.png", bigger.convert(mode), "PNG")
    assert keeper_of(root, tmp_path, threshold=10 if mode == "1" else 6)[0] == "original.jpg"


def test_a_re_encode_at_lower_quality_loses(tmp_path: Path) -> None:
    root, image = original_and(tmp_path, 4)
    derived(root, "reencoded.jpg", image, quality=40)
    keeper, group = keeper_of(root, tmp_path)
    assert keeper == "original.jpg"
    assert group.keeper_confidence == "high"  # decided by quality, not by age


def test_a_screenshot_of_the_photo_loses(tmp_path: Path) -> None:
    root, image = original_and(tmp_path, 5)
    # A phone screenshot: a dark status bar, the photo fitted in a black frame, taller than the photo.
    screen = Image.new("RGB", (image.width + 40, image.height + 420), (0, 0, 0))
    screen.paste(image, (20, 210))
    ImageDraw.Draw(screen).rectangle((0, 0, screen.width, 60), fill=(18, 18, 18))
    derived(root, "Screenshot_2024.png", screen, "PNG")
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


def test_a_watermarked_copy_loses_even_when_larger(tmp_path: Path) -> None:
    root, image = original_and(tmp_path, 6)
    marked = image.convert("RGBA")
    overlay = Image.new("RGBA", marked.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w, h = marked.size
    draw.rounded_rectangle((w * 0.62, h * 0.72, w * 0.95, h * 0.93), radius=12, fill=(255, 255, 255, 150))
    for k in range(5):
        draw.line((w * 0.65, h * (0.75 + 0.03 * k), w * 0.92, h * (0.75 + 0.03 * k)), fill=(20, 20, 20, 220), width=3)
    derived(root, "watermarked.png", Image.alpha_composite(marked, overlay).convert("RGB"), "PNG")
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


def test_a_squashed_copy_loses(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    image = ImageOps.fit(photo(7, 900), (800, 600))  # 4:3, as cameras make them
    save(image, root / "original.jpg", quality=90)
    derived(root, "squashed.jpg", image.resize((800, 552), Image.Resampling.LANCZOS), quality=95)
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


def test_a_crop_loses_to_the_whole_picture(tmp_path: Path) -> None:
    root, image = original_and(tmp_path, 8)
    w, h = image.size
    derived(root, "cropped.png", image.crop((int(w * 0.08), int(h * 0.06), w, h)), "PNG")  # lossless, larger
    assert keeper_of(root, tmp_path)[0] == "original.jpg"


def test_camera_data_then_age_decide_between_equals_and_say_so(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    image = photo(9)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
    exif.get_ifd(0x8769)[0x9003] = "2019:05:25 17:36:11"
    save(image, root / "IMG_0001.jpg", quality=92, exif=exif.tobytes())
    save(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), root / "copies" / "mirrored.jpg", quality=92)
    older(root / "copies" / "mirrored.jpg")
    keeper, group = keeper_of(root, tmp_path)
    assert keeper == "IMG_0001.jpg"  # the camera's EXIF, although the mirrored copy is older
    assert group.keeper_confidence == "low"  # same picture quality: worth a look


def test_the_exact_flag_marks_byte_copies_in_a_near_group(tmp_path: Path) -> None:
    root, image = original_and(tmp_path, 10)
    shutil.copy2(root / "original.jpg", root / "backup.jpg")
    derived(root, "small.jpg", image.resize((360, round(360 * image.height / image.width))), quality=80)
    _, group = keeper_of(root, tmp_path)
    flags = {os.path.basename(m.path): m.exact for m in group.members}
    assert flags == {"original.jpg": True, "backup.jpg": True, "small.jpg": False} or \
        flags == {"backup.jpg": True, "original.jpg": True, "small.jpg": False}
    assert group.category == "near" and group.exact_copies == 1


def test_a_reference_file_is_kept_and_a_reference_only_group_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    archive = tmp_path / "archive"
    image = photo(11)
    save(image, root / "original.jpg", quality=92)
    save(image.resize((400, round(400 * image.height / image.width))), archive / "old copy.jpg", quality=70)
    other = photo(12)
    save(other, archive / "a.jpg", quality=90)
    shutil.copy2(archive / "a.jpg", archive / "b.jpg")
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), options=SCAN,
                             match=MatchOptions(reference=(str(archive),)))  # scanned with the folders given
    groups = {os.path.basename(g.keeper.path): g for g in result.groups}
    assert set(groups) == {"old copy.jpg", "a.jpg"} or set(groups) == {"old copy.jpg", "b.jpg"}
    mixed = groups["old copy.jpg"]
    assert mixed.keeper.reference and not mixed.reference_only  # a reference file always keeps
    assert mixed.reclaimable_bytes == (root / "original.jpg").stat().st_size
    only = next(g for name, g in groups.items() if name != "old copy.jpg")
    assert only.reference_only and only.reclaimable_bytes == 0


def test_colour_keeps_different_flat_pictures_apart_and_copies_together(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    for name, colour in (("orange.png", (236, 120, 30)), ("green.png", (60, 170, 70)), ("blue.png", (40, 80, 200))):
        save(Image.new("RGB", (640, 480), colour), root / name, "PNG")
    save(Image.new("RGB", (640, 480), (236, 120, 30)), root / "copies" / "orange again.jpg", quality=80)
    save(Image.new("RGB", (320, 240), (236, 120, 30)), root / "copies" / "orange small.webp", "WEBP", quality=80)
    shapes = []
    for ground, fill in (((236, 120, 30), (40, 160, 60)), ((40, 160, 60), (120, 70, 30))):
        picture = Image.new("RGB", (640, 480), ground)
        ImageDraw.Draw(picture).ellipse((220, 150, 420, 330), fill=fill)
        shapes.append(picture)
    save(shapes[0], root / "ellipse on orange.png", "PNG")
    save(shapes[1], root / "ellipse on green.png", "PNG")
    for k, x in enumerate((0.2, 0.5, 0.8)):  # dark frames, a small light in different places
        frame = Image.new("RGB", (640, 480), (6, 6, 8))
        ImageDraw.Draw(frame).ellipse((640 * x - 14, 220, 640 * x + 14, 248), fill=(255, 190, 80))
        save(frame, root / f"dark {k}.png", "PNG")
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (236, 120, 30)).save(buffer, "PNG")
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), options=SCAN)
    groups = [sorted(os.path.basename(m.path) for m in g.members) for g in result.groups]
    assert groups == [["orange again.jpg", "orange small.webp", "orange.png"]]
