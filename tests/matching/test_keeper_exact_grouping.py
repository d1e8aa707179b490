from __future__ import annotations

import numpy as np
import pytest

from imgtwin.matching.exact import exact_groups, exact_labels
from imgtwin.matching.grouping import Matches, form_groups
from imgtwin.matching.keeper import FileInfo, KeeperPolicy, choose_keeper


def info(path, size=100, mtime=10, w=100, h=100, fmt="JPEG"):
    return FileInfo(path, size, mtime, w, h, fmt)


def test_best_keeper_rank_order():
    files = [
        info("/a/small.jpg", size=900, w=50, h=50),
        info("/a/big.jpg", size=100, w=200, h=200),
        info("/a/big_larger_file.jpg", size=200, w=200, h=200),
    ]
    assert choose_keeper(files) == 2  # resolution, then file size
    tie = [info("/x/b.jpg", fmt="JPEG"), info("/x/a.png", fmt="PNG")]
    assert choose_keeper(tie) == 1  # less lossy format
    tie = [info("/x/new.png", mtime=20, fmt="PNG"), info("/x/old.png", mtime=5, fmt="PNG")]
    assert choose_keeper(tie) == 1  # oldest
    tie = [info("/x/longer.png", fmt="PNG"), info("/x/s.png", fmt="PNG")]
    assert choose_keeper(tie) == 1  # shortest path


def test_other_policies():
    files = [info("/k/a.jpg", size=10, mtime=3), info("/k/keep/b.jpg", size=30, mtime=1), info("/k/c.jpg", size=20, mtime=2)]
    assert choose_keeper(files, KeeperPolicy.LARGEST) == 1
    assert choose_keeper(files, KeeperPolicy.SMALLEST) == 0
    assert choose_keeper(files, KeeperPolicy.OLDEST) == 1
    assert choose_keeper(files, KeeperPolicy.NEWEST) == 0
    assert choose_keeper(files, KeeperPolicy.PREFER_FOLDER, "/k/keep") == 1
    with pytest.raises(ValueError):
        choose_keeper(files, KeeperPolicy.PREFER_FOLDER)


def test_exact_groups_by_size_then_content(tmp_path):
    (tmp_path / "a").write_bytes(b"same bytes")
    (tmp_path / "b").write_bytes(b"same bytes")
    (tmp_path / "c").write_bytes(b"diff bytes")  # same size, other content
    (tmp_path / "d").write_bytes(b"unique size!")
    files = [(str(tmp_path / n), (tmp_path / n).stat().st_size) for n in "abcd"]
    read = []

    def digest(path):
        read.append(path)
        from imgtwin.hashing.content import content_hash

        return content_hash(path)

    groups = exact_groups(files, digest)
    assert [g.paths for g in groups] == [(str(tmp_path / "a"), str(tmp_path / "b"))]
    assert str(tmp_path / "d") not in read  # a unique size is never read
    assert exact_labels([p for p, _ in files], groups) == [0, 0, -1, -1]


def test_no_chaining():
    # A~B and B~C but A!~C: never one group.
    matches = Matches(np.array([0, 1]), np.array([1, 2]), np.array([6, 6]), ("identity", "identity"))
    groups = form_groups(3, matches, order=[1, 0, 2])
    assert [g.indices for g in groups] == [(1, 0, 2)]  # B is keeper: both A and C match B directly
    groups = form_groups(3, matches, order=[0, 1, 2])
    assert [g.indices for g in groups] == [(0, 1)]  # A is keeper: C is not within reach of A
    for g in groups:
        for m in g.members[1:]:
            assert any({g.keeper, m.index} == {a, b} for a, b in zip(matches.i, matches.j))


def test_exact_twins_follow_their_representative():
    matches = Matches(np.array([0]), np.array([2]), np.array([4]), ("rotate90",))
    groups = form_groups(4, matches, order=[0, 1, 2, 3], exact_labels=[-1, -1, 0, 0])
    (group,) = groups
    assert group.keeper == 0 and group.category == "near"
    assert sorted(group.indices) == [0, 2, 3]
    assert {m.index: m.transform for m in group.members} == {0: "keeper", 2: "rotate90", 3: "rotate90"}
    exact_only = form_groups(2, Matches(np.array([]), np.array([]), np.array([]), ()), [1, 0], [0, 0])
    assert exact_only[0].category == "exact" and exact_only[0].keeper == 1


def test_files_set_apart_never_share_a_group_even_through_a_keeper_they_both_match() -> None:
    matches = Matches(np.array([0, 0, 1]), np.array([1, 2, 3]), np.array([2, 3, 1]), ("identity",) * 3)
    apart = {(1, 2), (2, 1)}
    groups = form_groups(4, matches, [0, 1, 2, 3], apart=lambda i, j: (i, j) in apart)
    assert [g.indices for g in groups] == [(0, 1)]  # 2 matches only 0, whose group holds 1; 3 matched only 1
    assert [g.indices for g in form_groups(4, matches, [0, 1, 2, 3])] == [(0, 1, 2)]
