"""The review app end to end, in Debian's Chromium: live scan, review, apply trash, undo, compare, keys."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgtwin.interfaces import ProgressReporter
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.records import ProcessingSummary
from imgtwin.review import ReviewServer
from imgtwin.review.app import make_server
from imgtwin.review.finder import FoundGroups, IndexFinder
from imgtwin.review.progress import PageProgressReporter
from tests.helpers import synthetic_photo
from tests.review.conftest import (
    journal_lines,
    private_home,
    review_library,
    snapshot,
    wait_until,
)

pytestmark = pytest.mark.slow  # in a browser: the fast loop (pytest -m 'not slow') leaves this module out

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def open_app(browser: Any, server: ReviewServer) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.problems = problems
    page.goto(server.url)
    page.wait_for_selector("html[data-ready=true]")
    assert page.url == f"{server.origin}/"  # the token left the address bar
    return page


def member(page: Any, path: Path) -> Any:
    return page.locator(f'.member[data-path="{path}"]')


class HeldScan:
    """A ``Finder`` around the real one whose first scan waits, after its first and second file, until the
    test lets it go: the page must see the scan running however fast this machine hashes 51 files."""

    def __init__(self, finder: IndexFinder) -> None:
        self.finder = finder
        self.roots, self.reference = finder.roots, finder.reference
        self.go = {1: threading.Event(), 2: threading.Event()}
        self.held = {1: threading.Event(), 2: threading.Event()}
        self._scans = 0

    def release_all(self) -> None:
        for event in self.go.values():
            event.set()

    def scan(self, reporter: ProgressReporter, cancel: threading.Event) -> ProcessingSummary | None:
        self._scans += 1
        return self.finder.scan(self._holding(reporter) if self._scans == 1 else reporter, cancel)

    def _holding(self, reporter: ProgressReporter) -> ProgressReporter:
        """The page's reporter, held at files 1 and 2; its clock jumps a publishing interval before file 2,
        so file 2's count is published however soon after file 1 it comes (no sleeping past the interval)."""
        held, go = self.held, self.go
        assert isinstance(reporter, PageProgressReporter)
        skipped = [0.0]
        real_clock = reporter.clock
        reporter.clock = lambda: real_clock() + skipped[0]

        class Holding:
            def __getattr__(self, name: str) -> Any:
                return getattr(reporter, name)

            def report_progress(self, completed: int, total: int) -> None:
                if completed == 2:
                    skipped[0] += reporter.interval
                reporter.report_progress(completed, total)
                if completed in go:
                    held[completed].set()
                    go[completed].wait(60)  # never a hung test: the scan goes on by itself after a minute

        return Holding()

    def group(self) -> FoundGroups:
        return self.finder.group()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ReviewServer, Path, Path, HeldScan]]:
    """A fresh library (51 files, so the counts have room to go up) and its server, its first scan held."""
    data_home = private_home(monkeypatch, tmp_path / "home")
    root = review_library(tmp_path / "lib")
    (root / "more").mkdir()
    for k in range(40):
        synthetic_photo(500 + k, (480, 360)).save(root / "more" / f"p{k:02d}.jpg", quality=90)
    db = str(tmp_path / "index.db")
    finder = HeldScan(IndexFinder([str(root)], db, MatchOptions(), ScanOptions(workers=1)))
    server = make_server(finder, db_path=db)
    server.start_in_thread()
    try:
        yield server, root, data_home, finder
    finally:
        finder.release_all()
        server.stop()


def test_live_scan_review_apply_trash_and_undo_from_the_page(browser: Any, app: tuple[ReviewServer, Path, Path, HeldScan]) -> None:
    server, root, data_home, held = app
    before = snapshot(root)
    page = open_app(browser, server)

    # live scan: progress while it runs (held after file 1 until the page shows it, then after file 2,
    # a publishing interval later on the reporter's clock, so a count above 0 reaches the page), then the groups
    assert held.held[1].wait(60)
    scan = "document.getElementById('scan')"
    first = wait_until(page, f"{scan}.dataset.phase === 'scanning' && "
                             "document.getElementById('scan-counts').textContent")
    assert first in ("0 of 51 files", "1 of 51 files"), first
    held.go[1].set()
    assert held.held[2].wait(60)
    wait_until(page, f"{scan}.dataset.phase === 'scanning' && {scan}.dataset.done === '2'")  # counted up live
    held.go[2].set()
    page.wait_for_selector("html[data-version='1']", timeout=120_000)
    page.wait_for_selector("#scan[data-phase=ready]")
    assert page.get_attribute("#scan-errors", "data-value") == "1"
    groups = page.eval_on_selector_all(".group", "els => els.map(e => +e.dataset.groupId)")
    assert len(groups) == 4
    assert page.get_attribute('#summary [data-key="errors"]', "data-value") == "1"

    # review: a new keeper for one exact pair, one file of the near group left out
    member(page, root / "sub" / "copy0.png").locator("input[data-action=keep]").check()
    assert member(page, root / "sub" / "copy0.png").get_attribute("data-keep") == "true"
    assert member(page, root / "photo0.png").get_attribute("data-keep") == "false"
    member(page, root / "sub" / "small7.png").locator("input[data-action=include]").uncheck()
    assert member(page, root / "sub" / "small7.png").get_attribute("data-included") == "false"
    wait_until(page, "document.getElementById('plan').dataset.files === '4'")
    assert page.get_attribute("#plan", "data-edited") == "2"
    assert " · you changed 2 group(s). Keepers and excluded files are never touched." in page.text_content("#plan")

    # apply trash: a dry run first, then the real run, each file's outcome streamed to the page
    page.click('[data-action="apply"]')
    page.wait_for_selector("#confirm[open]")
    assert page.get_attribute("#confirm", "data-would") == "4"
    assert "4 file(s)" in page.text_content("#confirm-text")
    page.click('[data-action="confirm-apply"]')
    page.wait_for_selector("#activity[data-kind=apply][data-status=finished]", timeout=60_000)
    outcomes = page.eval_on_selector_all("#outcomes li", "els => els.map(e => [e.dataset.status, e.textContent])")
    assert [s for s, _ in outcomes] == ["done"] * 4, outcomes
    acted = {root / "photo0.png", root / "sub" / "deeper" / "copy1.png", root / "sub" / "copy2.png",
             root / "sub" / "rot7.jpg"}
    assert {next(str(p) for p in acted if f"{p} " in text or text.endswith(str(p)) or f"{p} →" in text)
            for _, text in outcomes} == {str(p) for p in acted}
    after = snapshot(root)
    assert set(before) - set(after) == {str(p.relative_to(root)) for p in acted}
    assert all(after[k] == v for k, v in before.items() if k in after)
    trash = data_home / "Trash" / "files"
    assert sorted(p.name for p in trash.iterdir()) == sorted(p.name for p in acted)
    journals = list((data_home / "imgtwin" / "journals").glob("dedupe-trash-*.jsonl"))
    assert len(journals) == 1
    lines = journal_lines(str(journals[0]))
    assert lines[0]["type"] == "run" and lines[0]["roots"] == [str(root)] and lines[-1]["type"] == "end"
    assert {e["path"] for e in lines if e["type"] == "intent"} == {str(p) for p in acted}
    assert sum(e["type"] == "done" for e in lines) == 4
    assert page.text_content("#job-journal") == f"Journal: {journals[0]}"

    # the page scans again by itself and shows what is left
    page.wait_for_selector("html[data-version='2']", timeout=60_000)
    page.wait_for_selector("#scan[data-phase=ready]")
    left = page.eval_on_selector_all(".member", "els => els.map(e => e.dataset.path)")
    assert sorted(left) == sorted([str(root / "big7.png"), str(root / "sub" / "small7.png")])

    # undo from the page: the tree comes back byte for byte
    page.click('#activity [data-action="undo"]')
    page.wait_for_selector("#activity[data-kind=undo][data-status=finished]", timeout=60_000)
    assert snapshot(root) == before
    assert list(trash.iterdir()) == [] and list((data_home / "Trash" / "info").iterdir()) == []
    assert sum(e["type"] == "undone" for e in journal_lines(str(journals[0]))) == 4
    page.wait_for_selector("html[data-version='3']", timeout=60_000)
    page.wait_for_selector("#scan[data-phase=ready]")
    assert page.locator(".group").count() == 4
    run = page.locator(f'#runs li[data-run="{lines[0]["run_id"]}"]')
    assert run.count() == 1 and run.get_attribute("data-undoable") == "false"
    assert not page.problems, page.problems
    page.close()


def test_keyboard_compare_help_errors_and_delete_confirmation(browser: Any, served: Any) -> None:
    server, root = served
    page = open_app(browser, server)
    page.wait_for_selector("html[data-version='1']")
    page.wait_for_selector("#scan[data-phase=ready]")
    first = page.eval_on_selector_all(".group", "els => els.map(e => e.dataset.groupId)")

    page.keyboard.press("j")
    assert page.get_attribute("html", "data-current-group") == first[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.get_attribute("html", "data-current-group") == first[1]
    page.keyboard.press("G")
    near = page.locator(f'.group[data-group-id="{first[-1]}"]')
    assert near.get_attribute("class").split() == ["group", "current"]
    focused = page.get_attribute("html", "data-focused-file")
    page.keyboard.press("x")  # exclude the focused file
    assert near.locator(f'.member[data-file="{focused}"]').get_attribute("data-included") == "false"
    page.keyboard.press(" ")  # and include it again
    assert near.locator(f'.member[data-file="{focused}"]').get_attribute("data-included") == "true"
    page.keyboard.press("l")
    focused = page.get_attribute("html", "data-focused-file")
    page.keyboard.press("Enter")  # make it the keeper
    assert near.locator(".member").first.get_attribute("data-file") == focused
    assert near.locator(".member").first.get_attribute("data-keep") == "true"

    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    assert "make the file the keeper" in page.text_content("#help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#help:not([open])", state="attached")

    # compare at full resolution, zoom and pan both sides together
    page.keyboard.press("c")
    page.wait_for_selector("#compare[open]")
    wait_until(page, "[...document.querySelectorAll('#compare img')].every(i => i.complete && i.naturalWidth > 0)")
    scales = page.eval_on_selector_all("#compare img", "els => els.map(e => +e.dataset.scale)")
    viewport = page.locator('.pane[data-side="left"] .viewport')
    box = viewport.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.mouse.wheel(0, -500)
    wait_until(page, "+document.getElementById('compare').dataset.zoom > 1.5")
    zoomed = page.eval_on_selector_all("#compare img", "els => els.map(e => +e.dataset.scale)")
    assert all(z > s * 1.5 for z, s in zip(zoomed, scales))
    assert abs(zoomed[0] / scales[0] - zoomed[1] / scales[1]) < 1e-3  # the same zoom on both sides
    cx = float(page.get_attribute("#compare", "data-cx"))
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 3 + 120, box["y"] + box["height"] / 3 + 40, steps=4)
    page.mouse.up()
    assert float(page.get_attribute("#compare", "data-cx")) < cx  # dragged right: looking further left
    page.keyboard.press("1")
    assert abs(float(page.eval_on_selector("#compare img", "e => +e.dataset.scale")) - 1) < 1e-3
    page.keyboard.press("ArrowRight")
    wait_until(page, "[...document.querySelectorAll('#compare img')].every(i => i.complete && i.naturalWidth > 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-compare.png"))
    page.keyboard.press("Escape")
    page.wait_for_selector("#compare:not([open])", state="attached")

    # the errors list
    page.click("#errors summary")
    wait_until(page, "document.querySelectorAll('#error-list li').length > 0")
    errors = server.session.groups.document["errors"]
    assert [e["path"] for e in errors] == [str(root / "broken.jpg")]
    assert page.eval_on_selector_all("#error-list li", "els => els.map(e => e.textContent)") == [
        f"{e['path']}: {e['reason']}: {e['message']}" for e in errors]

    # delete is behind a typed confirmation
    page.select_option("#action", "delete")
    page.click('[data-action="apply"]')
    page.wait_for_selector("#confirm[open]")
    confirm = page.locator('[data-action="confirm-apply"]')
    assert confirm.is_disabled() and page.is_visible("#confirm-warning")
    page.fill("#confirm-typed", "delet")
    assert confirm.is_disabled()
    page.fill("#confirm-typed", "delete")
    assert confirm.is_enabled()
    page.click('#confirm [data-action="cancel"]')
    assert all(os.path.exists(p) for p in page.eval_on_selector_all(".member", "els => els.map(e => e.dataset.path)"))
    page.select_option("#action", "move")
    assert page.is_visible("#move-to")
    page.fill("#move-to", str(root / "sub"))  # inside the scanned folder: refused before anything runs
    page.click('[data-action="apply"]')
    page.wait_for_selector("#confirm[open]")
    assert "inside a scanned folder" in page.text_content("#confirm-text")
    page.click('#confirm [data-action="cancel"]')
    assert page.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.close()


def test_the_screenshot_for_the_readme(browser: Any, served: Any) -> None:
    """docs/review-screenshot.png is made here (copied from test-artifacts/ by hand when the page changes):
    the page it shows has its pictures, a changed keeper and a file left out, and the image is that page."""
    server, root = served
    page = open_app(browser, server)
    page.wait_for_selector("html[data-version='1']")
    wait_until(page, "[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.querySelectorAll('.thumb img')].filter(i => i.naturalWidth > 0).length") >= 8
    member(page, root / "sub" / "copy0.png").locator("input[data-action=keep]").check()  # a keeper changed
    assert member(page, root / "sub" / "copy0.png").get_attribute("data-keep") == "true"
    page.keyboard.press("G")
    page.keyboard.press("l")
    page.keyboard.press("x")  # a file left out, in the last group
    left_out = page.eval_on_selector_all(".member[data-included=false]", "els => els.map(e => e.dataset.path)")
    last = page.eval_on_selector_all(".group:last-of-type .member", "els => els.map(e => e.dataset.path)")
    assert len(left_out) == 1 and left_out[0] in last, (left_out, last)
    wait_until(page, "document.getElementById('plan').dataset.edited === '2'")
    page.set_viewport_size({"width": 1280, "height": 1480})
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "review-page.png"
    page.screenshot(path=str(shot))
    assert page.problems == []
    page.close()
    with Image.open(shot) as image:
        assert image.size == (1280, 1480)
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 1000  # pictures, not a blank or a spinner
