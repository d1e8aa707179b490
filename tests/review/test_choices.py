"""The review page keeps a person's work: a keeper chosen with its "keep" control and a file unticked survive a
reload and a restart of the app (in the index, by content), the plan leaves the unticked file alone, a click on a
picture never changes the keeper, and a reset brings the automatic keeper back. Real server, SQLite, Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgtwin.review import ReviewServer
from tests.review.conftest import GroupFolder, client, member_ids, start, wait_ready, wait_until
from tests.review.test_app import member, open_app

SAVED = "document.documentElement.dataset.choicesPending === '0'"


def keeper_of(page: Any) -> str:
    return str(Path(page.get_attribute('.group .member[data-keep="true"]', "data-path")).name)


def unticked(page: Any) -> list[str]:
    return sorted(Path(p).name for p in page.eval_on_selector_all(
        ".member[data-included=false]", "els => els.map(e => e.dataset.path)"))


def found_keeper(server: ReviewServer) -> str:
    with client(server) as http:
        (group,) = http.get("/api/groups").json()["groups"]
    return next(Path(m["path"]).name for m in group["members"] if m["keep"])


def reopen(browser: Any, server: ReviewServer) -> Any:
    page = open_app(browser, server)
    page.wait_for_selector("html[data-version='1']")
    return page


@pytest.mark.slow  # in a browser
def test_a_keeper_chosen_and_a_file_unticked_survive_a_reload_and_a_restart_and_a_reset_forgets_them(
        browser: Any, group_folder: GroupFolder) -> None:
    db, photos = group_folder.db, group_folder.photos
    server = start(photos, db)
    try:
        wait_ready(server)
        automatic = found_keeper(server)
        chosen, left_out = sorted({"a.jpg", "b.jpg", "c.jpg"} - {automatic})
        page = reopen(browser, server)
        assert keeper_of(page) == automatic

        # a click on a picture selects it and opens it beside the keeper: the keeper stays
        member(page, photos / chosen).locator(".thumb").click()
        page.wait_for_selector("#compare[open]")
        assert page.get_attribute("#compare .pane[data-side=right]", "data-index") == \
            member(page, photos / chosen).get_attribute("data-index")
        page.keyboard.press("Escape")
        assert keeper_of(page) == automatic and page.get_attribute("#plan", "data-edited") == "0"

        # the explicit control makes it the keeper; a reload shows it again
        member(page, photos / chosen).locator("input[data-action=keep]").check()
        assert keeper_of(page) == chosen
        wait_until(page, SAVED)
        page.reload()
        page.wait_for_selector("html[data-version='1']")
        assert keeper_of(page) == chosen
        member(page, photos / left_out).locator("input[data-action=include]").uncheck()
        wait_until(page, SAVED)
        assert not page.problems, page.problems
        page.close()
    finally:
        server.stop()

    again = start(photos, db)  # a restart: new ids, new token; the choices are in the index
    try:
        wait_ready(again)
        page = reopen(browser, again)
        assert keeper_of(page) == chosen and unticked(page) == [left_out]
        assert page.get_attribute("#plan", "data-files") == "1" and page.get_attribute("#plan", "data-edited") == "1"
        page.click('[data-action="apply"]')  # the page's plan: the automatic keeper only
        page.wait_for_selector("#confirm[open]")
        assert page.get_attribute("#confirm", "data-would") == "1"
        page.click('#confirm [data-action="cancel"]')
        ids = member_ids(again)
        with client(again) as http:  # a request naming the unticked file anyway: the server leaves it alone
            body = {"version": 1, "action": "trash", "groups": [
                {"id": 1, "keep": ids[str(photos / chosen)], "act": [ids[str(photos / automatic)],
                                                                    ids[str(photos / left_out)]]}]}
            assert http.post("/api/preview", json=body).json()["would"] == 1
            assert http.post("/api/choices", json={"version": 1, "group": 1, "keep": None},
                             headers={"x-imgtwin-token": "wrong"}).status_code == 403
            stale = http.post("/api/choices", json={"version": 0, "group": 1, "keep": None})
            assert stale.status_code == 409 and "changed" in stale.json()["error"]
            assert http.post("/api/choices", json={"version": 1, "group": 1, "keep": "f" * 32}).status_code == 400

        # a reset: the automatic keeper, every file ticked, after a reload too
        page.click('.group [data-action="reset"]')
        assert keeper_of(page) == automatic and unticked(page) == []
        wait_until(page, SAVED)
        page.reload()
        page.wait_for_selector("html[data-version='1']")
        assert keeper_of(page) == automatic and unticked(page) == []
        assert page.is_hidden('.group [data-action="reset"]')
        assert not page.problems, page.problems
        page.close()
    finally:
        again.stop()


@pytest.mark.slow  # in a browser
def test_the_keep_control_works_from_the_keyboard(browser: Any, group_folder: GroupFolder) -> None:
    db, photos = group_folder.db, group_folder.photos
    server = start(photos, db)
    try:
        wait_ready(server)
        automatic = found_keeper(server)
        page = reopen(browser, server)
        radio = page.locator('.group .member[data-keep="true"] input[data-action=keep]')
        radio.focus()
        page.keyboard.press("ArrowDown")  # the radio set's own key: the next file becomes the keeper
        wait_until(page, SAVED)
        moved_to = keeper_of(page)
        assert moved_to != automatic
        page.reload()
        page.wait_for_selector("html[data-version='1']")
        assert keeper_of(page) == moved_to
        assert not page.problems, page.problems
        page.close()
    finally:
        server.stop()


def test_a_choice_follows_moved_files_and_a_changed_keeper_drops_it(tmp_path: Path,
                                                                     group_folder: GroupFolder) -> None:
    db, photos = group_folder.db, group_folder.photos
    server = start(photos, db)
    try:
        wait_ready(server)
        automatic = found_keeper(server)
        chosen, left_out = sorted({"a.jpg", "b.jpg", "c.jpg"} - {automatic})
        ids = member_ids(server)
        with client(server) as http:
            stored = http.post("/api/choices", json={"version": 1, "group": 1, "keep": ids[str(photos / chosen)],
                                                     "excluded": [ids[str(photos / left_out)]]})
            assert stored.status_code == 200 and stored.json() == {"group": 1, "stored": True}
    finally:
        server.stop()

    moved = tmp_path / "moved"
    shutil.move(str(photos), str(moved))
    assert stored_choice(moved, db) == (chosen, [left_out])

    with Image.open(moved / chosen) as picture:  # the chosen file changes: the person never saw these bytes
        picture.convert("RGB").save(moved / chosen, quality=60)
    assert stored_choice(moved, db) == (None, [left_out])


def stored_choice(folder: Path, db: Path) -> tuple[str | None, list[str]]:
    """What a new run of the app over ``folder`` shows of group 1: (chosen keeper, unticked), by file name."""
    server = start(folder, db)
    try:
        wait_ready(server)
        names = {i: Path(p).name for p, i in member_ids(server).items()}
        with client(server) as http:
            choice = http.get("/api/choices").json()["groups"].get("1", {"keep": None, "excluded": []})
        return (names[choice["keep"]] if choice["keep"] else None), sorted(names[i] for i in choice["excluded"])
    finally:
        server.stop()
