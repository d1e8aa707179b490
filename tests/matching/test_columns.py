"""Match features read column-wise (``matching.columns``) equal the table of the parsed objects, on a real index."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgtwin.hashing.features import MatchFeatures
from imgtwin.matching.columns import table_from_blobs
from imgtwin.matching.indexed import load_rows
from imgtwin.matching.table import FeatureTable
from imgtwin.options import ScanOptions
from imgtwin.persistence.index import HashIndex
from imgtwin.runs.scan import ScanSettings, run_scan
from tests.helpers import shared_photo


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An index of colour photos, a grey one, padded ones (two thumbnails), flat and blank pictures."""
    root = tmp_path_factory.mktemp("pictures")
    for k in range(6):
        photo = shared_photo(k, 240)
        photo.save(root / f"p{k}.jpg", quality=90)
        ImageOps.pad(photo, (300, 300), color=(0, 0, 0)).save(root / f"p{k}-padded.png")
    shared_photo(7, 200).convert("L").save(root / "grey.jpg")
    Image.new("RGB", (120, 90), (200, 180, 90)).save(root / "flat.png")
    ImageOps.expand(Image.new("RGB", (80, 60), (255, 255, 255)), 20, fill=(0, 0, 0)).save(root / "framed.png")
    db = str(root.parent / f"{root.name}.db")
    run_scan(ScanSettings.of([str(root)], db, ScanOptions()))
    return db, str(root)


def _blobs(db: str) -> list[bytes]:
    with HashIndex(db, readonly=True) as index:
        return [f.features for f in index.files_under([]) if f.features is not None]


def test_columns_equal_the_parsed_features_table(index: tuple[str, str]) -> None:
    blobs = _blobs(index[0])
    parsed = [MatchFeatures.from_bytes(b) for b in blobs]
    assert any(f.colour is None for f in parsed) and any(f.full_thumb is not None for f in parsed)
    expected = FeatureTable.from_features(parsed)
    table, boxes = table_from_blobs(blobs)
    for name in FeatureTable.__slots__:
        if name not in ("full_thumbs", "borders", "border_rows"):
            mine, theirs = getattr(table, name), getattr(expected, name)
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
    everything = np.arange(len(blobs))
    assert np.array_equal(table.full(everything), expected.full_thumbs)  # the untrimmed thumbnails, as parsed
    assert table.full_thumbs is None and table.borders is not None and len(table.borders) == table.trimmed.sum() > 0
    rows = np.array([3, 0, 3, len(blobs) - 1, *np.flatnonzero(table.trimmed)[::-1]])  # any order, repeats
    assert np.array_equal(table.full(rows), expected.full_thumbs[rows])
    assert boxes.tolist() == [list(f.trim) for f in parsed]


def test_rows_keep_the_picture_size_without_borders(index: tuple[str, str]) -> None:
    """Each row's size for the keeper is the stored size times its trim box (``MatchFeatures.trim``)."""
    loaded = load_rows(index[0], [index[1]])
    rows = loaded.rows(range(len(loaded)))
    assert len(loaded.table) == len(rows) == len(loaded) == 15
    with HashIndex(index[0], readonly=True) as db:
        features = {f.path: MatchFeatures.from_bytes(f.features or b"") for f in db.files_under([])}
    for row in rows:
        left, top, right, bottom = features[row.path].trim
        assert row.width is not None and row.height is not None
        assert (row.info.width, row.info.height) == (round(row.width * (right - left)), round(row.height * (bottom - top)))
        assert row.info.content_share == (right - left) * (bottom - top)
    assert sum(r.info.content_share < 1 for r in rows if r.path.endswith("-padded.png")) >= 3


@pytest.mark.parametrize("damage", ["magic", "length", "version"])
def test_a_damaged_blob_is_refused_as_the_parser_refuses_it(index: tuple[str, str], damage: str) -> None:
    blob = bytearray(_blobs(index[0])[0])
    if damage == "magic":
        blob[0:3] = b"XYZ"
    elif damage == "version":
        blob[3] = 9
    else:
        blob = blob[:-5]
    with pytest.raises(ValueError) as parsed:
        MatchFeatures.from_bytes(bytes(blob))
    with pytest.raises(ValueError) as columns:
        table_from_blobs([_blobs(index[0])[1], bytes(blob)])
    assert str(columns.value).split(":")[0] == str(parsed.value).split(":")[0]
