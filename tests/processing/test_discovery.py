from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgtwin.processing.discovery import DiscoveryOptions, check_roots, count, discover
from imgtwin.records import ErrorReason


def names(root: Path, options: DiscoveryOptions | None = None) -> list[str]:
    found = discover([str(root)], options or DiscoveryOptions())
    return [os.path.relpath(item.path, root) for item in found if item.error is None]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ["b.jpg", "a.jpg", "sub/c.png", "sub/deeper/d.gif", ".hidden.jpg", ".cache/e.jpg", "notes.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_walks_recursively_in_name_order_without_hidden(tree: Path) -> None:
    assert names(tree) == ["a.jpg", "b.jpg", "notes.txt", "sub/c.png", "sub/deeper/d.gif"]
    assert count([str(tree)], DiscoveryOptions()) == 5


def test_hidden_entries_only_on_request(tree: Path) -> None:
    assert ".hidden.jpg" in names(tree, DiscoveryOptions(include_hidden=True))
    assert ".cache/e.jpg" in names(tree, DiscoveryOptions(include_hidden=True))


def test_symlinks_skipped_by_default_and_loops_end_when_followed(tree: Path) -> None:
    (tree / "sub" / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "link.jpg").symlink_to(tree / "a.jpg")
    assert names(tree) == ["a.jpg", "b.jpg", "notes.txt", "sub/c.png", "sub/deeper/d.gif"]
    followed = names(tree, DiscoveryOptions(follow_symlinks=True))
    assert "link.jpg" in followed
    assert len(followed) == len(set(followed)) == 6  # the loop is entered once, not forever


def test_dangling_links_and_fifos_are_reported_never_opened(tree: Path) -> None:
    (tree / "gone.jpg").symlink_to(tree / "nowhere.jpg")
    os.mkfifo(tree / "pipe.jpg")
    os.mkfifo(tree / "pipe.txt")  # not named like an image: passed over
    items = {os.path.basename(i.path): i.error for i in discover([str(tree)], DiscoveryOptions(follow_symlinks=True))}
    assert items["gone.jpg"].reason is ErrorReason.VANISHED
    assert items["pipe.jpg"].reason is ErrorReason.NOT_A_REGULAR_FILE
    assert "FIFO" in items["pipe.jpg"].message
    assert "pipe.txt" not in items


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_is_reported_and_walk_goes_on(tree: Path) -> None:
    (tree / "sub").chmod(0)
    try:
        items = list(discover([str(tree)], DiscoveryOptions()))
    finally:
        (tree / "sub").chmod(0o755)
    errors = [i for i in items if i.error]
    assert [e.error.reason for e in errors] == [ErrorReason.PERMISSION]
    assert any(i.path.endswith("b.jpg") for i in items)


def test_file_roots_and_missing_roots(tree: Path) -> None:
    assert [i.path for i in discover([str(tree / "a.jpg")], DiscoveryOptions())] == [str(tree / "a.jpg")]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        check_roots([str(tree / "missing")])
    with pytest.raises(NotADirectoryError, match="a.jpg is a file, not a folder"):  # never a root of the index
        check_roots([str(tree / "a.jpg")])


def test_discovery_is_lazy(tree: Path) -> None:
    """A folder is listed when the walk reaches it, not up front: a file added under ``sub`` after the first
    item is seen, one added to the root (already listed) is not. An eager list would see neither."""
    walker = discover([str(tree)], DiscoveryOptions())
    first = next(walker)
    assert first.path.endswith("a.jpg")
    (tree / "sub" / "added.jpg").write_bytes(b"x")
    (tree / "added.jpg").write_bytes(b"x")
    rest = [os.path.relpath(item.path, tree) for item in walker]
    assert rest == ["b.jpg", "notes.txt", "sub/added.jpg", "sub/c.png", "sub/deeper/d.gif"]
