"""End to end on real generated images: near, padded, cropped, rotated, mirrored copies."""

from __future__ import annotations

import io
import os

from PIL import Image, ImageOps

from imgtwin.hashing.features import compute_features
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.matching.exact import exact_groups, exact_labels
from imgtwin.matching.grouping import form_groups
from imgtwin.matching.keeper import FileInfo, keeper_order
from imgtwin.matching.near import FeatureTable, near_matches


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def crop_edges(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * fraction), int(h * fraction / 2), w - int(w * fraction / 2), h - int(h * fraction)))


def build(tmp_path, make_scene):
    files: dict[str, bytes] = {}
    original = make_scene(10)
    files["orig.jpg"] = jpeg(original, 92)
    files["copy.jpg"] = files["orig.jpg"]
    files["reencoded.jpg"] = jpeg(original.resize((240, 180), Image.Resampling.LANCZOS), 60)
    files["padded.jpg"] = jpeg(ImageOps.pad(original, (320, 320), color=0))
    files["cropped.jpg"] = jpeg(crop_edges(original, 0.06))
    files["rotated.jpg"] = jpeg(original.transpose(Image.Transpose.ROTATE_90))
    files["mirrored.jpg"] = jpeg(original.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    for k in range(8):
        files[f"other{k}.jpg"] = jpeg(make_scene(100 + k))
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def run(paths):
    loader = StandardImageLoader(512)
    infos, feats = [], []
    for path in paths:
        loaded = loader.load(path)
        st = os.stat(path)
        infos.append(FileInfo(path, st.st_size, st.st_mtime_ns, loaded.width, loaded.height, loaded.format))
        feats.append(compute_features(loaded.image))
    exact = exact_groups((i.path, i.size) for i in infos)
    matches, _ = near_matches(FeatureTable.from_features(feats))
    return form_groups(len(paths), matches, keeper_order(infos), exact_labels(paths, exact))


def test_copies_found_and_unrelated_left_alone(tmp_path, make_scene):
    paths = build(tmp_path, make_scene)
    groups = run(paths)
    names = [{os.path.basename(paths[k]) for k in g.indices} for g in groups]
    copies = {"orig.jpg", "copy.jpg", "reencoded.jpg", "padded.jpg", "cropped.jpg", "rotated.jpg", "mirrored.jpg"}
    assert copies in names
    assert len(groups) == 1  # no unrelated picture grouped
    (group,) = groups
    by_name = {os.path.basename(paths[m.index]): m for m in group.members}
    assert by_name["mirrored.jpg"].transform == "mirror_h"
    assert by_name["rotated.jpg"].transform in ("rotate90", "rotate270")
    # Byte twins travel together: same distance, and the twin of the keeper is "exact".
    twin, orig = by_name["copy.jpg"], by_name["orig.jpg"]
    assert twin.distance == orig.distance
    assert twin.transform == ("exact" if orig.transform == "keeper" else orig.transform)
    assert all(m.distance <= 20 for m in group.members)
    assert group.category == "near"


def test_unrelated_pictures_not_grouped(tmp_path, make_scene):
    paths = []
    for k in range(12):
        path = tmp_path / f"p{k}.jpg"
        path.write_bytes(jpeg(make_scene(200 + k)))
        paths.append(str(path))
    assert run(paths) == []


def test_crop_hypotheses_find_edge_crops(make_scene):
    from imgtwin.matching.derived import crop_hashes
    from imgtwin.matching.near import FeatureTable as Table
    from imgtwin.matching.near import NearParams, candidate_pairs

    original = make_scene(11, (400, 300))
    cropped = original.crop((32, 0, 400, 300))  # 8 % off the left side
    feats = [compute_features(original), compute_features(cropped), compute_features(make_scene(12, (400, 300)))]
    table = Table.from_features(feats)
    assert crop_hashes(table.full_thumbs).shape == (3, 6)
    with_crops = candidate_pairs(table, 6, rotations=False, crop_radius=NearParams().crop_threshold)
    assert ((with_crops.i == 0) & (with_crops.j == 1)).any()
    matches, _ = near_matches(table)
    assert {(int(a), int(b)) for a, b in zip(matches.i, matches.j)} == {(0, 1)}
