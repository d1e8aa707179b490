from __future__ import annotations

import imgtwin
from imgtwin.interfaces import HashPersistence, Hasher, ImageLoader, ProgressReporter


def test_all_is_sorted_and_complete() -> None:
    assert imgtwin.__all__ == sorted(imgtwin.__all__)
    public = {name for name in vars(imgtwin) if not name.startswith("_") and name[0].isupper()}
    assert public <= set(imgtwin.__all__)
    assert all(hasattr(imgtwin, name) for name in imgtwin.__all__)


def test_concrete_classes_satisfy_their_protocols(tmp_path) -> None:
    assert isinstance(imgtwin.StandardImageLoader(), ImageLoader)
    assert isinstance(imgtwin.DCTHasher(), Hasher)
    assert isinstance(imgtwin.SqliteHashPersistence(str(tmp_path / "x.db")), HashPersistence)
    assert isinstance(imgtwin.ConsoleProgressReporter(show_progress=False), ProgressReporter)
    assert isinstance(imgtwin.NullReporter(), ProgressReporter)
