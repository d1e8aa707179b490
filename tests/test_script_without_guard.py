"""A script that calls imgtwin at its top level, without ``if __name__ == "__main__":``, gets the CLI's groups.

Worker processes are started by forkserver or spawn, which import the
caller's main module again unless told of none (``processing.mainless``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from tests.test_cli import imgtwin

pytestmark = pytest.mark.slow  # whole scripts run twice, with worker processes

UNGUARDED = """
import json, sys
import imgtwin

result = imgtwin.find_duplicates([sys.argv[1]], db=sys.argv[2], options=imgtwin.ScanOptions(workers=2))
print(json.dumps({"groups": [[m.path for m in g.members] for g in result.groups],
                  "errors": [e.reason.value for _, e in result.errors]}))
"""


def test_a_script_without_main_guard_gets_the_same_groups_as_find(photo_dir: Path, tmp_path: Path) -> None:
    with Image.open(photo_dir / "img1.jpg") as image:
        image.resize((320, 240)).save(photo_dir / "img1 small.png")  # a near group besides the byte copies
    script = tmp_path / "script.py"
    script.write_text(UNGUARDED)
    done = subprocess.run([sys.executable, str(script), str(photo_dir), str(tmp_path / "api.db")],
                          check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "busy" not in done.stderr
    from_script = json.loads(done.stdout)
    assert from_script["errors"] == []  # no worker_crashed
    found = imgtwin("find", str(photo_dir), "--db", str(tmp_path / "cli.db"), "--json", "-", "-q")
    groups = [[m["path"] for m in g["members"]] for g in json.loads(found.stdout)["groups"]]
    assert from_script["groups"] == groups and len(groups) == 2


GUARDED_WITH_OWN_LOADER = """
import sys
from imgtwin.engine import (DCTHasher, LoadedImage, NullReporter, ParallelProcessingEngine, ProcessingConfig,
                            SqliteHashPersistence, StandardImageLoader)


class Grey(StandardImageLoader):  # defined here: the workers must import this script to find it
    def load(self, path: str) -> LoadedImage:
        return super().load(path)


if __name__ == "__main__":
    engine = ParallelProcessingEngine(Grey(), DCTHasher(8))
    summary = engine.process_directory(sys.argv[1], ProcessingConfig(max_concurrent_tasks=2),
                                       NullReporter(), SqliteHashPersistence(sys.argv[2]))
    print(summary.processed_files, summary.error_count)
"""


def test_a_guarded_script_with_its_own_loader_still_gets_its_workers(photo_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "own_loader.py"
    script.write_text(textwrap.dedent(GUARDED_WITH_OWN_LOADER))
    done = subprocess.run([sys.executable, str(script), str(photo_dir), str(tmp_path / "own.db")],
                          check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["7", "0"]  # every picture hashed (the byte copy too), none crashed
