"""A review page of 10,000 groups draws a chunk at a time and answers keys (real server, real Chromium).

How fast is measured by ``benchmarks/review_pages.py`` (the 1 s promise), not asserted here: a timed test
fails on a loaded machine and says nothing about the code.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from imgtwin.records import GroupMember
from imgtwin.review import make_server
from imgtwin.review.finder import FoundGroups
from tests.helpers import synthetic_photo
from tests.reporting.test_html_perf import synthetic_document
from tests.review.conftest import wait_ready, wait_until

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out

GROUPS = 10_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class FixedFinder:
    """A finder whose groups are given: the page's speed, not the scan's, is measured here."""

    def __init__(self, root: Path, found: FoundGroups) -> None:
        self.roots = (str(root),)
        self.reference: tuple[str, ...] = ()
        self.found = found

    def scan(self, reporter: Any, cancel: threading.Event) -> None:
        return None

    def group(self) -> FoundGroups:
        return self.found


def big_library(root: Path) -> FoundGroups:
    """10,000 groups of 3 files: hard links to 30 real pictures, so every id serves a real file."""
    sources = root / "sources"
    sources.mkdir(parents=True)
    for k in range(30):
        synthetic_photo(k, (400, 300)).save(sources / f"{k:02d}.jpg", quality=85)
    document = synthetic_document(GROUPS)
    files = []
    for gi, group in enumerate(document["groups"]):
        folder = root / f"{gi // 100:03d}"
        folder.mkdir(exist_ok=True)
        members = []
        for k, member in enumerate(group["members"]):
            path = folder / f"IMG_{gi}_{k}.jpg"
            os.link(sources / f"{(3 * gi + k) % 30:02d}.jpg", path)
            st = path.stat()
            member["path"] = str(path)
            members.append(GroupMember(str(path), st.st_size, None, None, "JPEG", st.st_mtime_ns, 0, k == 0,
                                       dev=st.st_dev, inode=st.st_ino))
        files.append(tuple(members))
    return FoundGroups(document, tuple(files))


def measure_review_page(browser: Any, root: Path, loads: int = 2) -> dict[str, Any]:
    """Open a 10,000-group review page ``loads`` times: what each load took, checking what it shows."""
    found = big_library(root)
    server = make_server(FixedFinder(root, found))
    server.start_in_thread()
    try:
        wait_ready(server)
        runs = []
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("html[data-version='1']", timeout=30_000)
            drawn_ms = page.evaluate("performance.getEntriesByName('imgtwin-groups-1')[0].startTime")
            before = page.evaluate("performance.now()")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.keyboard.press("Enter")  # the second group gets a new keeper
            wait_until(page, "document.querySelector('.group.current .member').dataset.keep === 'true' && "
                             "document.querySelector('.group.current .member').dataset.index !== '0'")
            answered_ms = page.evaluate("performance.now()") - before
            in_dom = page.evaluate("document.querySelectorAll('.group').length")
            runs.append({"groups_drawn_ms": round(drawn_ms, 1), "keys_answered_ms": round(answered_ms, 1),
                         "interactive_ms": round(drawn_ms + answered_ms, 1), "groups_in_dom": in_dom,
                         "groups_shown": int(page.get_attribute('#summary [data-key="groups"]', "data-value"))})
            page.keyboard.press("G")  # the last group: drawn on demand
            wait_until(page, f"document.documentElement.dataset.currentGroup === '{found.document['groups'][-1]['id']}'")
            page.close()
        best = min(runs, key=lambda r: r["interactive_ms"])
        return {"groups": GROUPS, "files": 3 * GROUPS, "review_json_bytes": len(server.session.encoded("review")),
                "runs": runs, "best": best}
    finally:
        server.stop()


def test_ten_thousand_groups_are_drawn_a_chunk_at_a_time_and_answer_keys(browser: Any, tmp_path: Path) -> None:
    result = measure_review_page(browser, tmp_path / "big", loads=1)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "review-10k-interactive.json").write_text(json.dumps(result, indent=1) + "\n")
    (run,) = result["runs"]
    assert run["groups_shown"] == GROUPS
    assert 0 < run["groups_in_dom"] < 200  # not 10,000 groups at once
