"""The file filter (--exclude, --ext, sizes, no recursion, one file system) on real folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgtwin.processing.discovery import DiscoveryOptions, FileFilter, discover


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    sizes = {"a.jpg": 10, "B.JPG": 2000, "c.png": 500, "sub/d.jpg": 50, "sub/.thumbnails/t.jpg": 5,
             "sub/deeper/e.webp": 800, "skip/f.jpg": 10, "skipped.jpg": 10}
    for rel, size in sizes.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    return tmp_path


def names(root: Path, rules: FileFilter, include_hidden: bool = True) -> list[str]:
    options = DiscoveryOptions(include_hidden=include_hidden, filter=rules)
    return sorted(os.path.relpath(i.path, root) for i in discover([str(root)], options))


def selected(root: Path, rules: FileFilter, include_hidden: bool = True) -> list[str]:
    """The same filter answered from (path, size, device) rows, as find/report/dedupe do on the index."""
    select = rules.row_selector([str(root)], include_hidden)
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            info = os.stat(path)
            if select(path, info.st_size, info.st_dev):
                found.append(os.path.relpath(path, root))
    return sorted(found)


def test_an_excluded_folder_is_not_entered_and_rows_under_it_are_left_out(tree: Path) -> None:
    rules = FileFilter(exclude=("*/.thumbnails/*", f"{tree}/skip"))
    expected = ["B.JPG", "a.jpg", "c.png", "skipped.jpg", "sub/d.jpg", "sub/deeper/e.webp"]
    assert names(tree, rules) == expected
    assert selected(tree, rules) == expected


def test_exclude_matches_files_by_full_path(tree: Path) -> None:
    rules = FileFilter(exclude=("*.png", "*/sub/*"))
    assert names(tree, rules) == ["B.JPG", "a.jpg", "skip/f.jpg", "skipped.jpg"]
    assert selected(tree, rules) == ["B.JPG", "a.jpg", "skip/f.jpg", "skipped.jpg"]


def test_extensions_ignore_case_and_dots(tree: Path) -> None:
    rules = FileFilter(extensions=(".JPG",))
    expected = ["B.JPG", "a.jpg", "skip/f.jpg", "skipped.jpg", "sub/.thumbnails/t.jpg", "sub/d.jpg"]
    assert names(tree, rules) == expected
    assert selected(tree, rules) == expected


def test_sizes_are_inclusive(tree: Path) -> None:
    rules = FileFilter(min_size=50, max_size=800)
    assert names(tree, rules) == ["c.png", "sub/d.jpg", "sub/deeper/e.webp"]
    assert selected(tree, rules) == ["c.png", "sub/d.jpg", "sub/deeper/e.webp"]


def test_no_recursion_reads_only_the_root(tree: Path) -> None:
    rules = FileFilter(recursive=False)
    assert names(tree, rules) == ["B.JPG", "a.jpg", "c.png", "skipped.jpg"]
    assert selected(tree, rules) == ["B.JPG", "a.jpg", "c.png", "skipped.jpg"]


def test_hidden_folders_stay_out_of_the_selection_unless_asked(tree: Path) -> None:
    assert "sub/.thumbnails/t.jpg" not in selected(tree, FileFilter(min_size=0), include_hidden=False)
    assert "sub/.thumbnails/t.jpg" in selected(tree, FileFilter(min_size=0), include_hidden=True)


def test_one_file_system_keeps_the_files_of_the_roots_device(tree: Path) -> None:
    rules = FileFilter(one_file_system=True)
    assert names(tree, rules) == names(tree, FileFilter())  # tmp_path is one file system
    select = rules.row_selector([str(tree)])
    device = os.stat(tree).st_dev
    assert select(str(tree / "a.jpg"), 10, device)
    assert not select(str(tree / "a.jpg"), 10, device + 1)  # a file on a mount below the root


def test_a_root_file_is_always_read(tree: Path) -> None:
    found = [i.path for i in discover([str(tree / "c.png")], DiscoveryOptions(filter=FileFilter(extensions=("jpg",))))]
    assert found == [str(tree / "c.png")]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="above the maximum"):
        FileFilter(min_size=10, max_size=5)
    with pytest.raises(ValueError, match="min_size"):
        FileFilter(min_size=-1)
