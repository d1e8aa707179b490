"""The review page's "not duplicates" buttons, in Chromium: a marked group is gone after a restart of the app,
a rescan, and a move of its files; one marked member leaves the others grouped."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.review.conftest import GroupFolder, client, start, wait_ready, wait_until
from tests.review.test_app import member, open_app
from tests.test_not_duplicates import groups_of

pytestmark = pytest.mark.slow  # in a browser


def shown_groups(page: Any) -> list[set[str]]:
    names = page.eval_on_selector_all(
        ".group", "els => els.map(e => [...e.querySelectorAll('.member')].map(m => m.dataset.path))")
    return [{Path(p).name for p in group} for group in names]


def test_a_group_marked_in_the_page_is_gone_after_a_restart_a_rescan_and_a_move(
        browser: Any, tmp_path: Path, group_folder: GroupFolder) -> None:
    db, photos = group_folder.db, group_folder.photos
    server = start(photos, db)
    try:
        wait_ready(server)
        page = open_app(browser, server)
        page.wait_for_selector("html[data-version='1']")
        assert shown_groups(page) == [{"a.jpg", "b.jpg", "c.jpg"}]
        page.click('.group [data-action="apart-group"]')
        page.wait_for_selector("html[data-version='2']", timeout=60_000)
        wait_until(page, "document.querySelectorAll('.group').length === 0")
        assert "Remembered: these files are not duplicates (group 1)" in page.text_content("#marked")
        assert "decisions (`imgtwin mark list`): 3 file(s) left out of every group." in page.text_content("#notes")
        assert not page.problems, page.problems
        page.close()
    finally:
        server.stop()

    again = start(photos, db)  # a restart: the decision is in the index
    try:
        wait_ready(again)
        with client(again) as http:
            assert http.get("/api/groups").json()["groups"] == []
    finally:
        again.stop()
    moved = tmp_path / "moved"
    shutil.move(str(photos), str(moved))
    assert groups_of(moved, db) == []


def test_one_member_marked_in_the_page_leaves_the_other_two_grouped(
        browser: Any, group_folder: GroupFolder) -> None:
    db, photos, b = group_folder.db, group_folder.photos, group_folder.files[1]
    server = start(photos, db)
    try:
        wait_ready(server)
        page = open_app(browser, server)
        page.wait_for_selector("html[data-version='1']")
        member(page, b).locator('[data-action="apart"]').click()
        page.wait_for_selector("html[data-version='2']", timeout=60_000)
        assert shown_groups(page) == [{"a.jpg", "c.jpg"}]
        assert not page.problems, page.problems
        with client(server) as http:  # a stale version is refused, never applied to other groups
            refused = http.post("/api/not-duplicates", json={"version": 1, "group": 1, "files": []})
            assert refused.status_code == 409 and "changed" in refused.json()["error"]
            token_less = http.post("/api/not-duplicates", json={"version": 2, "group": 1},
                                   headers={"x-imgtwin-token": "wrong"})
            assert token_less.status_code == 403
        page.close()
    finally:
        server.stop()
