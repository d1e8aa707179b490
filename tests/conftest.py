"""Shared fixtures: real images made at test time, and the team's shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import require_shared, synthetic_photo


@pytest.fixture(scope="session", autouse=True)
def no_user_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the configuration file of whoever runs the tests (subprocesses inherit this too)."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    os.environ.pop("IMGTWIN_CONFIG", None)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A small tree: 6 distinct photos in several formats, a copy, a non-image."""
    root = tmp_path / "photos"
    (root / "a" / "b").mkdir(parents=True)
    for i in range(4):
        synthetic_photo(i).save(root / f"img{i}.jpg", quality=90)
    synthetic_photo(4).save(root / "a" / "four.png")
    synthetic_photo(5).save(root / "a" / "b" / "five.webp", quality=90)
    (root / "a" / "copy of img0.jpg").write_bytes((root / "img0.jpg").read_bytes())
    (root / "notes.txt").write_text("not an image\n")
    return root


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared generator's small preset (1,000 files, ~15-25 s), once per session."""
    corpus = require_shared("corpus")
    out = tmp_path_factory.mktemp("corpus") / "small"
    subprocess.run(
        [sys.executable, str(corpus / "make_corpus.py"), "--photos", str(corpus / "photos"),
         "--out", str(out), "--seed", "1", "--preset", "small"],
        check=True, capture_output=True,
    )
    return out
