"""`imgtwin dedupe` honours what a person chose in the review app: the keeper they picked is kept, a file they
unticked is left alone, and a group whose contents changed since falls back to the automatic keeper. Real review
server (its /api/choices), real index, the real command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.review.conftest import GroupFolder, client, member_ids, private_home, start, wait_ready
from tests.review.test_choices import found_keeper
from tests.test_not_duplicates import make_group, run


@pytest.fixture
def group_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GroupFolder:
    private_home(monkeypatch, tmp_path / "home")
    photos = tmp_path / "photos"
    return GroupFolder(photos, tmp_path / "index.db", make_group(photos))


def choose(group_folder: GroupFolder, pick: Callable[[str], tuple[str | None, list[str]]]) -> str:
    """Choose in the review app, as its "keep" control and tick boxes post it; ``pick``: automatic keeper ->
    (keeper, unticked). Returns the automatic keeper."""
    photos = group_folder.photos
    server = start(photos, group_folder.db)
    try:
        wait_ready(server)
        automatic = found_keeper(server)
        keep, unticked = pick(automatic)
        ids = member_ids(server)
        with client(server) as http:
            body = {"version": 1, "group": 1, "keep": ids[str(photos / keep)] if keep else None,
                    "excluded": [ids[str(photos / name)] for name in unticked]}
            assert http.post("/api/choices", json=body).status_code == 200
        return automatic
    finally:
        server.stop()


def others(automatic: str) -> list[str]:
    return sorted({"a.jpg", "b.jpg", "c.jpg"} - {automatic})


def dedupe(group_folder: GroupFolder, *flags: str) -> str:
    result = run("dedupe", str(group_folder.photos), "--db", str(group_folder.db), "--action", "move", "--move-to",
                 str(group_folder.photos.parent / "moved"), "--workers", "1", "--no-progress", *flags)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow  # two review servers and three scans
def test_dedupe_keeps_the_keeper_chosen_in_the_review_app_and_leaves_an_unticked_file(
        group_folder: GroupFolder) -> None:
    photos = group_folder.photos
    automatic = choose(group_folder, lambda found: (others(found)[0], [others(found)[1]]))
    chosen, unticked = others(automatic)

    out = dedupe(group_folder, "--yes")
    assert "1 group(s) keep the file you chose in the review app; 1 file(s) you unticked there are left alone." \
        in out, out
    # the automatic keeper went (the person chose another), the chosen and the unticked files stayed
    assert sorted(p.name for p in photos.iterdir()) == sorted([chosen, unticked, "other.jpg"])
    assert [p.name for p in (photos.parent / "moved").iterdir()] == [automatic]


@pytest.mark.slow  # a review server and two scans
def test_a_choice_is_not_applied_to_a_group_with_a_member_the_person_never_saw(group_folder: GroupFolder) -> None:
    photos = group_folder.photos
    automatic = choose(group_folder, lambda found: (others(found)[0], []))
    with Image.open(photos / automatic) as picture:  # new bytes of the same picture: a content not chosen over
        picture.save(photos / "d.jpg", quality=80)

    out = dedupe(group_folder)
    assert "you chose in the review app" not in out, out
    assert f"keep: {photos / automatic}" in out, out
