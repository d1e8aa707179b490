"""The keeper's rule and the metadata it lacks, on the HTML report and in the review app (real Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from tests.reporting.test_html import browser, open_page  # noqa: F401 - the module's browser fixture
from tests.review.conftest import client, private_home, start, wait_ready
from tests.test_keeper_statements import lost_position  # noqa: F401 - the fixture: big.jpg kept, small.jpg has GPS

HEADER = "Array.from(document.querySelectorAll('section.group header')).map((h) => h.textContent).join('|')"


def test_the_report_says_why_the_keeper_was_kept_and_what_it_lacks(
    browser: Any, lost_position: Path,  # noqa: F811
) -> None:
    tmp = lost_position.parent
    result = CliRunner().invoke(main, ["find", str(lost_position), "--db", str(tmp / "i.db"), "--html",
                                       str(tmp / "report.html"), "-q"])
    assert result.exit_code in (0, 1), result.output
    page = open_page(browser, tmp / "report.html")
    header = page.evaluate(HEADER)
    assert "kept: higher resolution" in header and "keeper lacks metadata" in header
    assert "the keeper lacks the GPS position, capture date, camera make/model a removed copy carries" in header
    assert page.get_attribute('#summary [data-key="keeper_lacks_metadata"]', "data-value") == "1"
    assert not page.problems


def test_the_review_app_says_why_the_keeper_was_kept_and_what_it_lacks(
    browser: Any, lost_position: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    private_home(monkeypatch, lost_position.parent / "home")
    server = start(lost_position, lost_position.parent / "i.db")
    try:
        wait_ready(server)
        with client(server) as http:
            (group,) = http.get("/api/review").json()["document"]["groups"]
        assert group["keeper_reason"] == "higher resolution" and group["keeper_lacks"] == ["gps", "date_taken",
                                                                                             "camera"]
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url)
        page.wait_for_selector("html[data-ready=true]")
        page.wait_for_selector("section.group header .keeper-reason")
        header = page.evaluate(HEADER)
        assert "kept: higher resolution" in header and "keeper lacks metadata" in header
    finally:
        server.stop()
