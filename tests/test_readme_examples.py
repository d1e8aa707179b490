"""Every Python example in the README, pasted into a plain script and run on a small generated library."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import synthetic_photo

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)


def library(root: Path) -> None:
    """Photos with a byte copy, a resized copy, a thumbnail cache and an archive folder of originals."""
    (root / "trip" / ".thumbnails").mkdir(parents=True)
    (root / "archive").mkdir()
    for i in range(3):
        synthetic_photo(10 + i).save(root / f"p{i}.jpg", quality=90)
    (root / "trip" / "p0 copy.jpg").write_bytes((root / "p0.jpg").read_bytes())
    synthetic_photo(11).resize((320, 240)).save(root / "trip" / "p1 small.png")
    (root / "trip" / ".thumbnails" / "p2.jpg").write_bytes((root / "p2.jpg").read_bytes())
    (root / "archive" / "p2.jpg").write_bytes((root / "p2.jpg").read_bytes())


def test_the_readme_has_python_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i + 1}" for i in range(len(EXAMPLES))])
def test_a_readme_example_runs_as_a_plain_script(example: str, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    library(home / "Pictures")
    library(work / "photos")
    script = work / "example.py"
    script.write_text(example, encoding="utf-8")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("IMGTWIN_DB", None)
    done = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True, check=False,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.strip()  # every example prints what it found or did
