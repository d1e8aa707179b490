"""A 10,000-group report opens with groups rendered a chunk at a time, more drawn as it scrolls (real Chromium).

How fast is measured by ``benchmarks/review_pages.py``, not asserted here: a timed test fails on a loaded
machine and says nothing about the code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from imgtwin.reporting.html import render_page
from tests.helpers import synthetic_photo
from tests.reporting.test_html import ARTIFACTS, browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out

GROUPS = 10_000


def synthetic_document(groups: int) -> dict[str, Any]:
    """``groups`` near groups of 3 files (every 4th exact, every 5th with a rotated copy)."""
    out = []
    for g in range(1, groups + 1):
        members = [
            {"path": f"/photos/{g:05d}/IMG_{g}_{k}.jpg", "size": 3_000_000 - 1000 * k - g, "width": 4000,
             "height": 3000, "format": "JPEG", "distance": 0 if k == 0 or g % 4 == 0 else k + 1, "keep": k == 0,
             "transform": "rotate90" if k == 2 and g % 5 == 0 else None}
            for k in range(3)
        ]
        out.append({"id": g, "category": "exact" if g % 4 == 0 else "near",
                    "reclaimable_bytes": sum(m["size"] for m in members[1:]), "members": members})
    return {"tool": "imgtwin", "version": "0", "threshold": 6, "rotations": True,
            "summary": {"groups": groups, "duplicates": 2 * groups,
                        "reclaimable_bytes": sum(g["reclaimable_bytes"] for g in out), "errors": 0},
            "groups": out, "errors": []}


def measure_report(browser: Any, folder: Path) -> dict[str, Any]:  # noqa: F811 - a browser, not the fixture
    """Write a 10,000-group report into ``folder`` and open it: what each step took, checking what it shows."""
    pictures = folder / "big_files"
    pictures.mkdir(parents=True)
    for k in range(30):
        synthetic_photo(k, (160, 120)).save(pictures / f"{k:02d}.jpg", quality=80)
    document = synthetic_document(GROUPS)
    names = [[f"{(3 * i + k) % 30:02d}.jpg" for k in range(3)] for i in range(GROUPS)]
    started = time.perf_counter()
    html = folder / "big.html"
    html.write_text(render_page(document, names, "big_files", "synthetic"), encoding="utf-8")
    render_s = time.perf_counter() - started

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.perf_counter()
    page.goto(html.as_uri())
    page.wait_for_selector("html[data-ready=true]")
    ready_s = time.perf_counter() - started
    timing = page.evaluate("""() => ({
        ready_ms: performance.getEntriesByName('imgtwin-rendered')[0].startTime,
        load_ms: performance.getEntriesByType('navigation')[0].loadEventEnd,
        groups_in_dom: document.querySelectorAll('.group').length,
    })""")
    page.wait_for_function("[...document.images].filter(i => i.getBoundingClientRect().top < innerHeight)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    visible_s = time.perf_counter() - started
    shown = int(page.get_attribute('#summary [data-key="groups"]', "data-value"))
    page.mouse.wheel(0, 20_000)
    page.wait_for_function(f"document.querySelectorAll('.group').length > {timing['groups_in_dom']}")
    after_scroll = page.evaluate("document.querySelectorAll('.group').length")
    page.close()
    return {"groups": GROUPS, "groups_shown": shown, "page_bytes": html.stat().st_size, "render_s": round(render_s, 3),
            "open_to_ready_s": round(ready_s, 3), "visible_thumbnails_s": round(visible_s, 3),
            "groups_after_scroll": after_scroll, **timing}


def test_ten_thousand_groups_render_a_chunk_at_a_time(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    result = measure_report(browser, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "html-report-10k-open.json").write_text(json.dumps(result, indent=1) + "\n")
    assert result["groups_shown"] == GROUPS
    assert 0 < result["groups_in_dom"] < 200  # not 10,000 rows at once
    assert result["groups_after_scroll"] > result["groups_in_dom"]  # scrolling draws more
